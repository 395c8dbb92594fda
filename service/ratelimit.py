"""Per-enterprise request rate limit: a token bucket in each worker process.

A misbehaving gateway (a resend loop, a clock stuck in the past) must not crowd out the others.
The limit is per process, so with N workers an enterprise may reach N times the rate; it is a
guard against floods, not an accounting of quotas.
"""

import math
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    rate_per_second: float
    burst: int
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, updated)

    def retry_after(self, key: int) -> int:
        """0 when the request may go ahead (a token is taken), else whole seconds to wait."""
        if self.rate_per_second <= 0:
            return 0
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate_per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate_per_second))
