"""Pure functions that return Dash layout pieces; data comes in as arguments, never from the engine."""
