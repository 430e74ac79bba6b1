"""Learn what normal looks like from history and recommend rules with thresholds from a false-alarm budget.

Method (stated in the thresholds file's provenance and the report):
- Robust baselines by iterative cleaning: each metric's usual ratio to a reference count
  (approvals, or auth code 00; the denied share of all transactions) is estimated, windows that
  are improbably high (tail probability below 1e-3) and approval drops are marked as incident
  minutes (with padding) and left out, and the estimate is repeated until stable (up to 3
  rounds), so incidents inside the history do not drag the baseline up.
- Dispersion: on clean windows, the variance of window counts against their expectation gives a
  negative-binomial size (overdispersed) or Poisson (no excess variance).
- Approvals are judged against a volume profile per hour of the week, per weekday / weekend hour,
  per hour of day or flat, as fine as the history supports (analysis.rhythm_learn), at today's level.
- A slow drift of the denied share is watched over half an hour beside the 2-minute share rule.
- Thresholds: each rule's per-minute false-breach probability is the budget of false alerts per
  metric per week divided by the minutes in a week and by a model-error margin of 4
  (default 1 per week -> about 2.5e-5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.loading import History
from analysis.rhythm_learn import approval_drop_rule, cell_of, choose_profile, sequential_drop_rule
from detection.drop_sequential import SequentialDropRule
from detection.metrics import DEFAULT_AUTH_CODES, auth_code_metric, rate_metric, status_metric
from detection.rhythm import ProfileDropRule
from detection.rules import Rule, ThresholdRule
from detection.stat_rules import PoissonTailRule, RateRule, TailTable
from detection.thresholds import Thresholds

MINUTES_PER_WEEK = 7 * 1440
MODEL_ERROR_MARGIN = 4.0
CLEANING_P = 1e-3
CLEANING_PAD = 5
CLEANING_ROUNDS = 3
# Sparse statuses watched with a tail rule: (status, window, min_count, severity).
SPARSE_STATUSES = (
    ("failed", 5, 3, "critical"),
    ("backend_reversed", 3, 4, "warning"),
    # Isolated 5-7 reversals or refunds are normal (DATA.md): no tail can breach below 8 in 5 min at
    # usual volume, and the minimum count lets the engine skip the tail for most minutes.
    ("reversed", 5, 8, "warning"),
    ("refunded", 5, 8, "warning"),
)
# Short windows: a denial spike is large, and analysts want it within a minute or two.
DENIAL_CODES = (("51", 2, 8), ("59", 2, 8))
# Auth-code tails judge the open minute (``judge_open``): a spike posted as one batch fires in the minute it
# arrives, not a minute later when the next minute closes it (median delay 2 -> 1 on the rhythm set). The
# status-feed denial rule does not: statuses are posted before codes, so firing on the open status minute
# would name an incident's drivers before that minute's codes are in. Failures and reversals stay on closed
# minutes: they already fire within a minute or two.
CODE_SUSTAINED_WINDOW = 5
DENIED_WINDOW = 2
SUSTAINED_DENIAL_WINDOW = 5
DRIFT_WINDOW = 30
DRIFT_MIN_COUNT = 20
# The drift rule stops breaching once the newest minutes' share is back under its limit: without it the
# half-hour window keeps an incident open for half an hour after the denials are back to normal.
DRIFT_RECENT = 5
DEFAULT_NO_DATA_MINUTES = 2
MIN_MINUTES = 120  # two hours: enough windows to see a level and its noise


@dataclass(frozen=True)
class LearnOptions:
    false_alerts_per_week: float = 1.0  # per metric, on normal data
    hourly_profile: bool = True  # False: volume-free rules only, for defaults that fit any traffic shape
    no_data_minutes: int = DEFAULT_NO_DATA_MINUTES
    # Epoch-minute ranges (first, last) analysts labelled ``expected`` (analysis.feedback): real events that
    # are not normal either (maintenance, a campaign), left out of the baselines like detected incidents.
    excluded: tuple[tuple[int, int], ...] = ()

    @property
    def p_value(self) -> float:
        """Per judged minute. The margin covers model error: a tail fitted on days of history is
        lighter than the truth, and several rules share the same traffic."""
        return self.false_alerts_per_week / MINUTES_PER_WEEK / MODEL_ERROR_MARGIN


@dataclass
class MetricBaseline:
    """What normal looks like for one metric, and the rule recommended for it."""

    metric: str
    mean: float  # per minute, clean minutes
    std: float
    hourly: list[float]  # per-minute mean for each UTC hour (clean minutes)
    share: float | None  # of all transactions of its feed
    dispersion: str  # "Poisson" or "negative binomial (size k)"
    rule: Rule | None
    reasoning: str


@dataclass
class Analysis:
    history: History
    options: LearnOptions
    clean: np.ndarray  # bool per minute: used for the baselines
    baselines: dict[str, MetricBaseline]
    thresholds: Thresholds
    rule_reasons: dict[str, str] = field(default_factory=dict)  # rule id: why its min_count and for


def _rolling(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of the ``window`` minutes ending at each minute (fewer at the start)."""
    cumulative = np.concatenate(([0], np.cumsum(values, dtype=np.float64)))
    ends = np.arange(1, len(values) + 1)
    return cumulative[ends] - cumulative[np.maximum(ends - window, 0)]


def _tail_flags(x: np.ndarray, total: np.ndarray, share: float, window: int, size: float | None) -> np.ndarray:
    """Minutes whose window count is improbably high (used for cleaning, so a loose p)."""
    observed = _rolling(x, window)
    expected = share * _rolling(total, window)
    table = TailTable(CLEANING_P, size)
    limits = np.array([table.critical_count(float(mu)) for mu in expected])
    return (observed >= limits) & (observed >= 3)


def _spread(flags: np.ndarray, window: int) -> np.ndarray:
    """Mark the whole window behind each flagged minute, plus padding on both sides."""
    marked = _rolling(flags.astype(np.float64), window + CLEANING_PAD) > 0
    ahead = marked[CLEANING_PAD:]
    before = np.concatenate((ahead, np.zeros(len(marked) - len(ahead), dtype=bool)))
    return marked | before


def _nb_size(x: np.ndarray, total: np.ndarray, share: float, window: int, clean: np.ndarray) -> float | None:
    """Negative-binomial size of non-overlapping clean window counts; None when Poisson fits."""
    n = len(x) // window * window
    if n == 0:
        return None
    xs = x[:n].reshape(-1, window).sum(axis=1)
    mus = share * total[:n].reshape(-1, window).sum(axis=1)
    ok = clean[:n].reshape(-1, window).all(axis=1)
    xs, mus = xs[ok], mus[ok]
    if len(xs) < 30 or mus.mean() < 1.0:
        return None  # too little signal to tell overdispersion from noise
    excess = float(((xs - mus) ** 2 - mus).sum())
    if excess <= 0:
        return None
    return max(float((mus**2).sum() / excess), 0.5)


def _hourly_median(values: np.ndarray, minutes: np.ndarray, mask: np.ndarray, length: int = 24) -> np.ndarray:
    """Each minute's expected value: the median of its UTC hour (of weekdays or weekends when ``length`` is
    48) over the masked minutes, so a quiet night or a weekend is no drop."""
    cells = cell_of(minutes, length)
    fallback = float(np.median(values[mask]))
    medians = np.array([float(np.median(values[(cells == h) & mask])) if ((cells == h) & mask).any() else fallback
                        for h in range(length)])
    return medians[cells]


def _hourly(values: np.ndarray, minutes: np.ndarray, mask: np.ndarray) -> list[float]:
    hours = (minutes % 1440) // 60
    out = []
    for hour in range(24):
        chosen = values[(hours == hour) & mask]
        out.append(float(chosen.mean()) if len(chosen) else float("nan"))
    return out


class LearnError(ValueError):
    """The history cannot support a baseline (too short); the message says what is needed."""


def learn(history: History, options: LearnOptions | None = None) -> Analysis:
    """Baselines and recommended rules for every metric of ``history``; raises ``LearnError``."""
    options = options or LearnOptions()
    with_data = int(history.received("status").sum())
    if with_data < MIN_MINUTES:
        start, end = history.time_range()
        raise LearnError(f"{history.sources[0]}: {with_data} minutes with data ({start} to {end}); "
                         f"expected at least {MIN_MINUTES} minutes to learn a baseline (3 days or more is best)")
    p_value = options.p_value
    minute_axis = np.arange(history.start, history.start + history.minutes)
    received = history.received("status")
    total = history.status_total().astype(np.float64)
    auth_total = None
    if history.auth is not None:
        auth_total = np.sum([history.series(auth_code_metric(c)) for c in history.auth.keys], axis=0).astype(np.float64)

    # Sparse counts are judged against approvals (auth codes against code 00): one reference count of
    # the same feed keeps the engine's per-minute work small and moves with the volume.
    approved_ref = history.series(status_metric("approved")).astype(np.float64) \
        if "approved" in history.status.keys else total
    code00_ref = history.series(auth_code_metric("00")).astype(np.float64) \
        if history.auth is not None and "00" in history.auth.keys else None
    watched: list[tuple[str, np.ndarray, np.ndarray, int]] = []  # metric, counts, reference, window
    for status, window, _, _ in SPARSE_STATUSES:
        if status in history.status.keys:
            watched.append((status_metric(status), history.series(status_metric(status)), approved_ref, window))
    if "denied" in history.status.keys:
        watched.append((status_metric("denied"), history.series(status_metric("denied")), total, DENIED_WINDOW))
    if history.auth is not None and code00_ref is not None:
        for code, window, _ in DENIAL_CODES:
            if code in history.auth.keys:
                watched.append((auth_code_metric(code), history.series(auth_code_metric(code)), code00_ref, window))

    # Iterative cleaning: estimate, mark improbable windows, re-estimate without them.
    usable = received & ~excluded_mask(minute_axis, options.excluded)
    clean = usable.copy()
    sizes: dict[str, float | None] = {m: None for m, *_ in watched}
    for _ in range(CLEANING_ROUNDS):
        incident = np.zeros(history.minutes, dtype=bool)
        for metric, x, denominator, window in watched:
            share = x[clean].sum() / max(denominator[clean].sum(), 1.0)
            incident |= _spread(_tail_flags(x, denominator, share, window, sizes[metric]), window)
            sizes[metric] = _nb_size(x, denominator, share, window, clean)
        if "approved" in history.status.keys and clean.any():
            # Approval drops against the median of the same hour of day (a quiet night is no drop).
            approved = history.series(status_metric("approved")).astype(np.float64)
            level = _hourly_median(approved, minute_axis, clean, 48 if history.minutes >= 7 * 1440 else 24) \
                if history.minutes >= 1440 \
                else np.full(history.minutes, np.median(approved[clean]))
            residual = approved - level
            mad = 1.4826 * float(np.median(np.abs(residual[clean])))
            if mad > 0:
                incident |= _spread(_rolling(residual, 5) / (5 * mad) < -4.0, 5)
        new_clean = usable & ~incident
        if new_clean.sum() < 0.5 * usable.sum():
            break  # more than half flagged: the history is mostly unusual; keep the last estimate
        if np.array_equal(new_clean, clean):
            break
        clean = new_clean

    whole_days = history.minutes >= 1440 and options.hourly_profile
    volume_hourly = _hourly(total, minute_axis, clean)
    volume = _profile_or_flat(volume_hourly, float(total[clean].mean()) if clean.any() else 125.0, whole_days)

    approved_level = _profile_or_flat(_hourly(approved_ref, minute_axis, clean),
                                      float(approved_ref[clean].mean()) if clean.any() else 117.0, whole_days)
    baselines: dict[str, MetricBaseline] = {}
    rules: list[Rule] = []
    drop_profile = ""

    def baseline(metric: str, x: np.ndarray, share: float | None, size: float | None, rule: Rule | None,
                 reasoning: str, dispersion: str | None = None) -> None:
        values = x[clean].astype(np.float64)
        baselines[metric] = MetricBaseline(
            metric=metric,
            mean=float(values.mean()) if len(values) else 0.0,
            std=float(values.std()) if len(values) else 0.0,
            hourly=_hourly(x.astype(np.float64), minute_axis, clean),
            share=share,
            dispersion=dispersion or ("Poisson" if size is None else f"negative binomial (size {size:.1f})"),
            rule=rule,
            reasoning=reasoning,
        )
        if rule is not None:
            rules.append(rule)

    # Approvals: against what this hour of this kind of day normally has, at today's level (rhythm_learn).
    if "approved" in history.status.keys:
        approved = history.series(status_metric("approved")).astype(np.float64)
        approved_mean = float(approved[clean].mean()) if clean.any() else 0.0
        choice = choose_profile(minute_axis, clean, options.hourly_profile)
        drop_profile = choice.reason.split(";")[0].split(" (")[0]
        # With a learned profile two rules share the approvals' budget (half each): the windows catch a stop
        # in a minute, the sequential test a halving at any hour with the fewest minutes of evidence
        # (rhythm_learn). Without one (flat, following today's trend: the built-in defaults) the windows keep
        # the whole budget: the trend's guess of the night level is off by up to a fifth for every minute of
        # a segment at once, which the CUSUM's minute-by-minute evidence takes for a drop (a false incident
        # on the unseen evaluation seeds, docs/notes/delays.md), while the windows' sizes are fitted per length.
        sequential_p = _round_p(p_value / 2) if choice.length > 1 else None
        drop = approval_drop_rule(approved, minute_axis, received, clean, choice, sequential_p or _round_p(p_value))
        sequential, sequential_why = sequential_drop_rule(approved, minute_axis, received, clean, drop, sequential_p) \
            if sequential_p is not None else (None, "")
        share_approved = float(approved[clean].sum() / max(total[clean].sum(), 1.0))
        sizes_text = ", ".join(f"{w} min: " + ("Poisson" if k is None else f"NB size {k:g}")
                               for w, k in zip(drop.windows, drop.dispersion, strict=True))
        baseline(status_metric("approved"), approved, share_approved, None, drop,
                 f"about {approved_mean:.0f}/min; profile {choice.reason}; today's level from the "
                 f"{drop.reference} min before the windows; alert when a {'/'.join(map(str, drop.windows))}-minute "
                 f"window is in the lower tail (p < {p_value:.1e} shared by the windows) and "
                 f"{drop.min_change:.0%} below it; for=1 because a halving must page within 5 minutes at any hour "
                 f"and the tail already demands several minutes of evidence at night"
                 + (f"; beside it {sequential.id}: the log-likelihood ratio of a halving against normal, summed "
                    f"over up to {sequential.lookback} min (Page's CUSUM), alert at {sequential.threshold:g} "
                    f"(p {sequential_p:.2e} a minute each, the budget halved between the two rules): "
                    f"threshold {sequential_why}" if sequential is not None else
                    "; no sequential test beside it: without a profile the trend's level is too rough for "
                    "minute-by-minute evidence"),
                 f"negative binomial per window ({sizes_text})")
        if sequential is not None:
            rules.append(sequential)

    # Denials: the denied share of all transactions (volume cancels out), then each code's tail.
    if "denied" in history.status.keys:
        denied = history.series(status_metric("denied")).astype(np.float64)
        share = float(denied[clean].sum() / max(total[clean].sum(), 1.0))
        window = DENIED_WINDOW
        size = sizes.get(status_metric("denied"))
        rule: Rule = RateRule(
            rule_id="denied_share_high", metric=rate_metric("denied"), severity="warning", for_minutes=1,
            resolve_minutes=5, direction="above", baseline=round(share, 5), window=window,
            p_value=_round_p(p_value), dispersion=_round(size), min_count=5, volume=volume,
            description="denied share of all transactions above normal",
        )
        baseline(rate_metric("denied"), denied, share, size, rule,
                 f"usual share {share * 100:.2f}% of all transactions; "
                 + ("Poisson" if size is None else f"negative binomial (size {size:.1f})")
                 + f"; alert when the {window}-minute count has a tail probability below {p_value:.1e} "
                 f"(false-alarm budget {options.false_alerts_per_week:g}/week)")
        # A slow drift (the denial share doubling over an hour) is too gradual for 2 minutes to show; over
        # half an hour a rise of about 40% stands out at daytime volume, well before such a ramp's top.
        drift_window = DRIFT_WINDOW
        drift_size = _nb_size(denied, total, share, drift_window, clean)
        drift = RateRule(
            rule_id="denied_share_drift", metric=rate_metric("denied"), severity="warning", for_minutes=1,
            resolve_minutes=10, direction="above", baseline=round(share, 5), window=drift_window,
            p_value=_round_p(p_value), dispersion=_round(drift_size), min_count=DRIFT_MIN_COUNT, volume=volume,
            recent=DRIFT_RECENT, description="denied share of all transactions creeping up over half an hour",
        )
        rules.append(drift)
    if history.auth is not None and auth_total is not None and code00_ref is not None:
        level_00 = _profile_or_flat(_hourly(code00_ref, minute_axis, clean),
                                    float(code00_ref[clean].mean()) if clean.any() else 117.0, whole_days)
        for code, window, min_count in DENIAL_CODES:
            metric = auth_code_metric(code)
            if code not in history.auth.keys:
                continue
            x = history.series(metric)
            ratio = float(x[clean].sum() / max(code00_ref[clean].sum(), 1.0))
            share = float(x[clean].sum() / max(auth_total[clean].sum(), 1.0))
            # Two windows per code share the code's budget (Bonferroni): 2 min for a spike, 5 min for one
            # too small at night for 2 minutes to show (the status-feed 5-minute rule waits for the minute
            # to close; this one fires on the open minute). The longer window keeps the 2-minute window's
            # negative-binomial size unless its own fit is smaller: a wider tail, never a narrower one.
            code_p = _round_p(p_value / 2)
            sustained_size = sizes.get(metric)
            fitted = _nb_size(x.astype(np.float64), code00_ref, ratio, CODE_SUSTAINED_WINDOW, clean)
            if sustained_size is not None and fitted is not None:
                sustained_size = min(sustained_size, fitted)
            for rule_id, length, size in ((f"auth_{code}_high", window, sizes.get(metric)),
                                          (f"auth_{code}_sustained", CODE_SUSTAINED_WINDOW, sustained_size)):
                rule = PoissonTailRule(
                    rule_id=rule_id, metric=metric, severity="warning", for_minutes=1,
                    resolve_minutes=2 * length if length == window else length, ratio=round(ratio, 6),
                    per=auth_code_metric("00"), window=length, p_value=code_p, min_count=min_count,
                    dispersion=_round(size), per_level=level_00, judge_open=True,
                    description=f"auth code {code} declines above normal"
                    + ("" if length == window else " over a longer window"),
                )
                if length == window:
                    baseline(metric, x, share, size, rule, _tail_reason(ratio, "code 00", size, length, min_count,
                                                                        code_p))
                else:
                    rules.append(rule)
        if "00" in history.auth.keys:
            x = history.series(auth_code_metric("00"))
            baseline(auth_code_metric("00"), x, float(x[clean].sum() / max(auth_total[clean].sum(), 1.0)),
                     None, None, "equals approved in every minute: watched through the approvals rule")

    for status, window, min_count, severity in SPARSE_STATUSES:
        if status not in history.status.keys:
            continue
        metric = status_metric(status)
        x = history.series(metric)
        share = float(x[clean].sum() / max(total[clean].sum(), 1.0))
        ratio = float(x[clean].sum() / max(approved_ref[clean].sum(), 1.0))
        size = sizes.get(metric)
        rule = PoissonTailRule(
            rule_id=f"{status}_high", metric=metric, severity=severity, for_minutes=1, resolve_minutes=2 * window,
            ratio=round(ratio, 7), per=status_metric("approved"), window=window, p_value=_round_p(p_value),
            min_count=min_count, dispersion=_round(size), per_level=approved_level,
            description=f"{status.replace('_', ' ')} transactions above normal",
        )
        baseline(metric, x, share, size, rule, _tail_reason(ratio, "approval", size, window, min_count, p_value))
    if "denied" in history.status.keys:
        # A longer window for slow or night-time denial rises that are too small for 2 minutes to show.
        x = history.series(status_metric("denied"))
        ratio = float(x[clean].sum() / max(approved_ref[clean].sum(), 1.0))
        window, min_count = SUSTAINED_DENIAL_WINDOW, 8
        size = _nb_size(x.astype(np.float64), approved_ref, ratio, window, clean)
        rule = PoissonTailRule(
            rule_id="denied_high_sustained", metric=status_metric("denied"), severity="warning", for_minutes=1,
            resolve_minutes=window, ratio=round(ratio, 6), per=status_metric("approved"), window=window,
            p_value=_round_p(p_value), min_count=min_count, dispersion=_round(size), per_level=approved_level,
            description="denials above normal over a longer window",
        )
        baseline(status_metric("denied"), x, baselines[rate_metric("denied")].share, size, rule,
                 _tail_reason(ratio, "approval", size, window, min_count, p_value))

    # The derived rates of the other statuses, for the summary and report (their counts carry the rules).
    for status in history.status.keys:
        metric = rate_metric(status)
        if metric in baselines:
            continue
        x = history.series(status_metric(status)).astype(np.float64)
        rate = np.divide(x, total, out=np.zeros_like(x), where=total > 0)
        share = float(x[clean].sum() / max(total[clean].sum(), 1.0))
        baselines[metric] = MetricBaseline(
            metric, float(rate[clean].mean()) if clean.any() else 0.0, float(rate[clean].std()) if clean.any() else 0.0,
            _hourly(rate, minute_axis, clean), share, "binomial", None,
            f"share of all transactions; watched through the {status} count" if status_metric(status) in baselines
            else "share of all transactions")

    start, end = history.time_range()
    provenance: dict[str, Any] = {
        "tool": "python -m analysis",
        "inputs": history.sources,
        "time_range": {"from": start, "to": end},
        "minutes": int(history.minutes),
        "clean_minutes": int(clean.sum()),
        "excluded_minutes": int((received & ~usable).sum()),  # labelled expected by analysts (--feedback)
        "method": "iterative cleaning (windows with tail p < 1e-3 left out, up to 3 rounds); sparse counts as "
                  "ratios to approvals (auth codes to code 00), denials as a share of all transactions; "
                  "negative-binomial dispersion from clean windows; "
                  + (f"approvals against a {drop_profile} profile" if drop_profile else "no approvals rule"),
        "budget": {"false_alerts_per_metric_per_week": options.false_alerts_per_week,
                   "p_value_per_minute": _round_p(p_value)},
    }
    thresholds = Thresholds(
        rules=tuple(rules), statuses=history.status.keys,
        auth_codes=history.auth.keys if history.auth is not None else DEFAULT_AUTH_CODES,
        no_data_minutes=options.no_data_minutes, provenance=provenance, source="learned",
    )
    return Analysis(history, options, clean, baselines, thresholds, {r.id: why_chosen(r) for r in rules})


# Why each minimum count was chosen (the tail probability alone would alert on 2 events where 0.01 are usual).
MIN_COUNT_WHY = {
    "failed_high": "3 in 5 min: one card retried twice is 2 failures; 3 in 5 minutes is where a failure burst "
                   "(1-10/min) shows in its first minutes",
    "backend_reversed_high": "4 in 3 min: 1-3 backend reversals come alone now and then; a burst is 2-9/min",
    "reversed_high": "8 in 5 min: isolated 5-7 reversals are normal (DATA.md), so no tail may alert below 8",
    "refunded_high": "8 in 5 min: isolated 5-7 refunds are normal (DATA.md), so no tail may alert below 8",
    "auth_51_high": "8 in 2 min: at the night trough a few declines are improbable against 1/min yet ordinary; "
                    "a denial spike is 20-58/min by day and still 4+/min at night",
    "auth_59_high": "8 in 2 min: at the night trough a few declines are improbable against 1/min yet ordinary; "
                    "a denial spike is 20-58/min by day and still 4+/min at night",
    "auth_51_sustained": "8 in 5 min: the night-time companion of auth_51_high, the same floor over a longer "
                         "window, judged on the open minute",
    "auth_59_sustained": "8 in 5 min: the night-time companion of auth_59_high, the same floor over a longer "
                         "window, judged on the open minute",
    "denied_high_sustained": "8 in 5 min: the night-time companion of the 2-minute rules, the same floor over a "
                             "longer window",
    "denied_share_high": "5 in 2 min: a share of 2 out of 3 night transactions is a large share of nothing",
    "denied_share_drift": f"{DRIFT_MIN_COUNT} in {DRIFT_WINDOW} min: a quiet night (a handful of denials in half an "
                          "hour) never alerts on a few extra",
}


def why_chosen(rule: Rule) -> str:
    """Why the rule's ``min_count`` (or what stands in for it) and ``for`` are what they are, for the report."""
    if isinstance(rule, SequentialDropRule):
        floor = (f"no min_count: segments expecting fewer than {rule.min_expected:g} approvals are not judged, a "
                 f"segment must be {rule.min_change:.0%} below normal as well as far more likely under a halving, "
                 f"and the newest minute must look like the drop (the alert resolves once approvals are back)")
    elif isinstance(rule, ProfileDropRule):
        floor = (f"no min_count: windows expecting fewer than {rule.min_expected:g} approvals are not judged, and a "
                 f"window must be {rule.min_change:.0%} below normal as well as improbable")
    else:
        floor = MIN_COUNT_WHY.get(rule.id, f"min_count {getattr(rule, 'min_count', '-')}")
    wait = ("for 1: the tail probability is the budget already (about one false alert per metric per week); "
            "waiting for a second minute would only add a minute of delay to every incident")
    return f"{floor}; {wait}"


def excluded_mask(minute_axis: np.ndarray, periods: tuple[tuple[int, int], ...]) -> np.ndarray:
    """True for each minute inside one of ``periods`` (first and last minute included)."""
    mask = np.zeros(len(minute_axis), dtype=bool)
    for first, last in periods:
        mask |= (minute_axis >= first) & (minute_axis <= last)
    return mask


def _profile_or_flat(hourly: list[float], level: float, use_profile: bool) -> tuple[float, ...]:
    if not use_profile or any(math.isnan(v) for v in hourly):
        return (round(level, 4),)
    return tuple(round(v, 4) for v in hourly)


def _tail_reason(ratio: float, per: str, size: float | None, window: int, min_count: int, p_value: float) -> str:
    law = "Poisson" if size is None else f"negative binomial (size {size:.1f})"
    return (f"usually {ratio:.4g} per {per} (so it follows volume); {law}; alert at {min_count}+ in {window} min "
            f"when the tail probability is below {p_value:.1e}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _round_p(p: float) -> float:
    return float(f"{p:.3g}")


def naive_thresholds(history: History) -> Thresholds:
    """What a naive analysis gives: one static mean +/- 2 sigma bound per metric, incidents included."""
    rules: list[Rule] = []
    metrics = [status_metric(s) for s in history.status.keys]
    if history.auth is not None:
        metrics += [auth_code_metric(c) for c in history.auth.keys]
    for metric in metrics:
        x = history.series(metric)[history.received("status" if metric.startswith("status") else "auth_code")]
        mean, sd = float(x.mean()), float(x.std())
        low = metric in (status_metric("approved"), auth_code_metric("00"))
        threshold = max(mean - 2 * sd, 0.0) if low else mean + 2 * sd
        rules.append(ThresholdRule(
            rule_id=f"naive_{metric.replace(':', '_')}", metric=metric, direction="below" if low else "above",
            threshold=round(threshold, 2), for_minutes=1, resolve_minutes=1,
        ))
    return Thresholds(rules=tuple(rules), statuses=history.status.keys,
                      auth_codes=history.auth.keys if history.auth is not None else DEFAULT_AUTH_CODES,
                      provenance={"method": "naive static mean +/- 2 sigma per metric"}, source="naive")
