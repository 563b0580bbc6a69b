"""How fast to send: the adaptive request rate and the server's ``retry-after`` advice.

Both are pure (times are passed in, nothing sleeps), so they can be tested and simulated
without a clock; `mix_eval.llm.client` does the waiting.
"""
from __future__ import annotations

import email.utils
import math
import time
from collections import deque
from typing import Mapping, Optional

__all__ = ["AdaptiveRateLimiter", "parse_retry_after"]


class AdaptiveRateLimiter:
    """Request pacing that learns the server's rate limit from its 429s.

    A pure state machine (times are passed in, nothing sleeps), so it can be tested
    and simulated without a clock.

    * Pacing is a GCRA / token bucket with rate ``rate`` and a burst of at most two
      requests (``tau`` = min(1/rate, 10 ms)), so the pool never bursts.
    * The gate: a 429's ``retry-after`` moves ``gate_until``; nobody sends before it.
    * Increase: each success adds ``slow_start_gain`` req/s while in slow start (or
      while below 95% of the rate measured at the last cut), else ``increase_gain``,
      i.e. about +2% per second at steady state. There is no increase while the pool
      is not limited by the pacing (no demand, nothing learned).
    * Decrease: a 429 for a request sent after the last cut (one cut per round trip,
      as in TCP) sets ``rate = clamp(0.95 * admitted, 0.5 * rate, (1 - cut) * rate)``
      where ``admitted`` is the rate at which requests sent in the last second were
      accepted (sent minus rejected): while the server rejects, that is its limit. The
      minimum ``cut`` is 5% and doubles with each cut that follows the previous one
      within 0.5 s (5, 10, 20, 40, 50%), so a big overshoot (a server with a large burst
      allowance hides its limit until the burst is spent) is corrected in a few steps.
    * A run of 429s with no success in it (the server rejects everything for a while:
      an overload, or another client spent a shared limit) measures nothing about the
      rate; the gates pace the pool through it, the rate is not cut below half the rate
      of before the run, the client climbs back to that rate at the slow-start pace, and
      a slow start the run interrupted goes on.
    * Recovery: after ``quiet_recovery`` seconds without a 429, the rate returns to the
      rate that worked when the latest run of 429s began (capped by what the server
      then accepted), so a short burst of 429s does not leave the pool crawling.
    """

    def __init__(self, initial_rate: float, *, min_rate: float = 0.02,
                 max_rate: Optional[float] = None, slow_start_gain: float = 1.0,
                 increase_gain: float = 0.02, min_cut: float = 0.05, max_cut: float = 0.5,
                 target: float = 0.95, window: float = 1.0, window_samples: int = 20,
                 escalate_within: float = 0.5, quiet_recovery: float = 1.0):
        self.max_rate = float(max_rate) if max_rate else math.inf
        self.min_rate = min(float(min_rate), self.max_rate)
        self.rate = min(max(float(initial_rate), self.min_rate), self.max_rate)
        self.slow_start = True
        self.slow_start_gain = slow_start_gain
        self.increase_gain = increase_gain
        self.min_cut, self.max_cut, self.target = min_cut, max_cut, target
        self.window, self.window_samples = window, window_samples
        self.escalate_within = escalate_within
        self._quick_cuts = 0
        self.ceiling = math.inf
        self.peak = 0.0               # the rate before the latest run of cuts
        self.run_rate = 0.0           # the rate when the latest run of 429s began
        self.run_start = -math.inf
        self.run_slow_start = False
        self.last_success = -math.inf
        self.quiet_recovery = quiet_recovery
        self.new_run_after = max(5.0, quiet_recovery)
        self.tat = -math.inf          # GCRA theoretical arrival time
        self.gate_until = -math.inf
        self.last_cut = -math.inf
        self.last_paced = -math.inf
        self.first_send: Optional[float] = None
        self.cuts = 0
        self._sends: deque = deque()     # send times
        self._rejects: deque = deque()   # send times of the requests answered 429

    max_tau = 0.01   # seconds a request may go early to make up for a late timer

    def _tau(self) -> float:
        return min(1.0 / self.rate, self.max_tau)

    def _window(self) -> float:
        return max(self.window, self.window_samples / self.rate)

    def delay(self, now: float) -> float:
        """Seconds until a request may be sent (<= 0: now)."""
        return max(self.tat - self._tau(), self.gate_until) - now

    def try_acquire(self, now: float) -> float:
        """Take a slot and return 0.0, or return how long to wait before trying again."""
        wait = self.delay(now)
        if wait > 1e-6:
            self.last_paced = now
            return wait
        self.tat = max(self.tat, now, self.gate_until) + 1.0 / self.rate
        self._sends.append(now)
        if self.first_send is None:
            self.first_send = now
        self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        horizon = now - max(self._window(), 30.0)
        while self._sends and self._sends[0] < horizon:
            self._sends.popleft()
        while self._rejects and self._rejects[0] < horizon:
            self._rejects.popleft()

    def admitted_rate(self, now: float) -> Optional[float]:
        """Accepted requests per second among those sent in the last window; None if
        there is less than half a window of history."""
        w = self._window()
        if self.first_send is None:
            return None
        start = max(now - w, self.first_send)
        span = now - start
        if span < 0.5 * w:
            return None
        sent = sum(1 for t in self._sends if t >= start)
        rejected = sum(1 for t in self._rejects if t >= start)
        return max(sent - rejected, 0) / span

    def on_success(self, now: float) -> None:
        if self.last_success < self.run_start and self.run_slow_start:
            self.slow_start = True    # the run of 429s measured nothing: keep searching
        self.last_success = now
        if now - self.last_paced > 1.0:   # the pacing is not what limits us: learn nothing
            return
        if self.rate < self.peak and now - self.last_cut > self.quiet_recovery:
            # A burst of 429s is over (no 429 for a while): return to the rate that worked
            # before it, instead of creeping back up for minutes.
            self._set_rate(self.peak, now)
            return
        if self.slow_start:
            rate = self.rate + self.slow_start_gain
        elif self.rate < 0.95 * self.ceiling:
            rate = min(0.95 * self.ceiling, self.rate + self.slow_start_gain)
        else:
            rate = self.rate + self.increase_gain
        self.rate = min(rate, self.max_rate)

    def _set_rate(self, rate: float, now: float) -> None:
        """Raise the rate; the next slot, booked at the old (slower) rate, moves closer."""
        self.rate = min(rate, self.max_rate)
        if self._sends:
            self.tat = min(self.tat, max(self._sends[-1] + 1.0 / self.rate, now))

    def on_rate_limited(self, now: float, sent_at: float, gate_delay: Optional[float]) -> bool:
        """Record a 429; returns True when the rate was cut."""
        self._rejects.append(sent_at)
        if gate_delay is not None and gate_delay > 0:
            self.gate_until = max(self.gate_until, now + gate_delay)
        if sent_at < self.last_cut:   # sent before the last cut: already accounted for
            return False
        admitted = self.admitted_rate(now)
        if now - self.last_cut >= self.new_run_after:
            # A new run of 429s: remember a rate that was working when it began (what the
            # server accepted, when known), to return to once the run is over.
            self.peak = (self.rate * (1 - self.max_cut) if admitted is None
                         else min(self.rate, self.target * admitted))
            self.run_rate, self.run_start, self.run_slow_start = self.rate, now, self.slow_start
        self._quick_cuts = self._quick_cuts + 1 if now - self.last_cut < self.escalate_within else 0
        cut = min(self.max_cut, self.min_cut * 2 ** self._quick_cuts)
        lo, hi = self.rate * (1 - self.max_cut), self.rate * (1 - cut)
        new = hi if admitted is None else min(hi, max(lo, self.target * admitted))
        self.ceiling = self.rate if admitted is None else min(admitted, self.rate)
        if self.last_success < self.run_start:
            # Nothing but 429s since the run began: no measurement of the rate, only of
            # an outage; the gates hold the pool back, the rate stays within reach.
            floor = self.run_rate * (1 - self.max_cut)
            new = max(new, min(floor, self.rate))
            self.ceiling = max(self.ceiling, self.run_rate)
        self.rate = min(max(new, self.min_rate), self.max_rate)
        self.slow_start = False
        self.last_cut = now
        self.cuts += 1
        return True


def parse_retry_after(headers: Optional[Mapping[str, str]], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds, possibly
    fractional, or an HTTP date); None when absent or unreadable."""
    if not headers:
        return None
    get = headers.get
    value = get("retry-after-ms") or get("Retry-After-Ms")
    if value is not None:
        try:
            ms = float(value)
            if math.isfinite(ms) and ms >= 0:
                return ms / 1000.0
        except (TypeError, ValueError):
            pass
    value = get("retry-after") or get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
