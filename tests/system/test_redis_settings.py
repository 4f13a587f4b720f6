"""With REDIS_URL set, no Redis client of ours reads with a timeout its own blocking pop can reach.

redis-py 8 made 5 s the default socket_timeout, which is also how long channels-redis blocks in
BZPOPMIN: every idle consumer was torn down with 1011 (test_topology.py shows that end to end).
This checks the configuration in a fresh process, on both test passes, without a Redis server.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import json, django
django.setup()
from django.conf import settings as s
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from kombu.transport.redis import Transport
from analytics_site.celery import app

layer = get_channel_layer()
pool = layer.create_pool(0)
with app.connection_for_write() as conn:
    broker = conn.default_channel.client.connection_pool.connection_kwargs
print(json.dumps({
    "layer": {k: pool.connection_kwargs.get(k) for k in
              ("socket_timeout", "socket_connect_timeout", "socket_keepalive", "health_check_interval")},
    "layer_block": RedisChannelLayer.brpop_timeout,
    "broker": {k: broker.get(k) for k in
               ("socket_timeout", "socket_connect_timeout", "socket_keepalive", "health_check_interval")},
    "broker_block": Transport.brpop_timeout,
    "result_backend": s.CELERY_RESULT_BACKEND,
}))
"""


def test_channel_layer_and_broker_read_timeouts_outlast_their_blocking_pops():
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",)}
    env.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
               REDIS_URL="redis://127.0.0.1:6379/15")  # building the pools connects to nothing
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for client, block in (("layer", got["layer_block"]), ("broker", got["broker_block"])):
        kwargs = got[client]
        # A bounded read (a silent Redis is noticed) that a live Redis's blocking reply always beats.
        assert kwargs["socket_timeout"] is not None and kwargs["socket_timeout"] >= 2 * block, (client, kwargs)
        assert kwargs["socket_connect_timeout"] and kwargs["socket_keepalive"] is True, (client, kwargs)
        assert kwargs["health_check_interval"], (client, kwargs)
    assert got["result_backend"] is None  # no third Redis client to configure
