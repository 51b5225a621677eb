"""The venues' official SDKs as clients of Kairos's loopback venues (tests/sdk_clients.rs).

    python venue_clients.py alpaca  REST_URL WS_URL KEY SECRET SYMBOL,SYMBOL N
    python venue_clients.py binance REST_URL WS_URL SYMBOL,SYMBOL N

Prints one JSON object: what the SDK read over REST and the first N bars it received from the
stream, so that the Rust test compares them with the market the venue serves.
"""
import asyncio
import json
import sys
from datetime import datetime, timezone


def alpaca(rest, ws, key, secret, symbols, n):
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.live import StockDataStream
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    client = StockHistoricalDataClient(key, secret, url_override=rest)
    req = StockBarsRequest(
        symbol_or_symbols=symbols,
        timeframe=TimeFrame.Minute,
        start=datetime(2000, 1, 1, tzinfo=timezone.utc),
    )
    barset = client.get_stock_bars(req)
    out = {"rest": {}, "stream": []}
    for sym in symbols:
        out["rest"][sym] = [
            [b.timestamp.isoformat(), b.open, b.high, b.low, b.close, b.volume]
            for b in barset.data.get(sym, [])
        ]

    stream = StockDataStream(key, secret, url_override=ws)

    async def on_bar(bar):
        out["stream"].append([bar.symbol, bar.timestamp.isoformat(), bar.close])
        if len(out["stream"]) >= n:
            await stream.stop_ws()

    stream.subscribe_bars(on_bar, *symbols)
    asyncio.run(asyncio.wait_for(stream._run_forever(), 60))
    return out


def binance(rest, ws, symbols, n):
    from binance_sdk_spot.spot import (
        ConfigurationRestAPI,
        ConfigurationWebSocketStreams,
        Spot,
    )
    from binance_sdk_spot.rest_api.models import KlinesIntervalEnum
    from binance_sdk_spot.websocket_streams.models import KlineIntervalEnum

    client = Spot(
        config_rest_api=ConfigurationRestAPI(api_key="", api_secret="", base_path=rest),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=ws),
    )
    out = {"rest": {}, "stream": []}
    for sym in symbols:
        resp = client.rest_api.klines(symbol=sym, interval=KlinesIntervalEnum["INTERVAL_1m"].value, limit=1000)
        rows = resp.data()
        out["rest"][sym] = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6]] for r in rows]

    async def run():
        conn = await client.websocket_streams.create_connection()
        done = asyncio.get_running_loop().create_future()
        for sym in symbols:
            handle = await conn.kline(symbol=sym.lower(), interval=KlineIntervalEnum["INTERVAL_1m"].value)

            def on_message(data, sym=sym):
                k = data.k if hasattr(data, "k") else data["k"]
                get = (lambda f: getattr(k, f)) if hasattr(k, "x") else (lambda f: k[f])
                if get("x"):
                    out["stream"].append([get("s"), get("T"), get("c")])
                if len(out["stream"]) >= n and not done.done():
                    done.set_result(True)

            handle.on("message", on_message)
        await asyncio.wait_for(done, 60)
        await conn.close_connection(close_session=True)

    asyncio.run(run())
    return out


if __name__ == "__main__":
    venue = sys.argv[1]
    if venue == "alpaca":
        _, _, rest, ws, key, secret, syms, n = sys.argv
        result = alpaca(rest, ws, key, secret, syms.split(","), int(n))
    else:
        _, _, rest, ws, syms, n = sys.argv
        result = binance(rest, ws, syms.split(","), int(n))
    print(json.dumps(result))
