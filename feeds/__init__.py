"""Live ways in besides the REST API: the demo stream, CSV replay and the simulate scenarios."""
