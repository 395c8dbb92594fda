import httpx

from service.app import create_app
from service.limits import RateLimiter
from tests.conftest import register
from tests.factories import batch, movement


def test_bucket_allows_a_burst_then_the_rate():
    limiter = RateLimiter(rate_per_second=2, burst=3)
    assert [limiter.retry_after(1) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after(1) == 1
    assert limiter.retry_after(2) == 0  # another enterprise has its own bucket
    assert RateLimiter(rate_per_second=0, burst=0).retry_after(1) == 0  # off


async def test_a_flooding_gateway_gets_429_with_retry_after(settings, engine):
    app = create_app(settings.model_copy(update={"rate_limit_per_second": 0.5, "rate_limit_burst": 2}))
    flooding, quiet = await register(engine), await register(engine)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answers = [await client.post("/api/v1/movements", json=batch(flooding, movement()), headers=flooding.auth)
                   for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["error"] == "rate_limited" and answers[2].headers["Retry-After"] == "2"
        calm = await client.post("/api/v1/movements", json=batch(quiet, movement()), headers=quiet.auth)
        assert calm.status_code == 200
