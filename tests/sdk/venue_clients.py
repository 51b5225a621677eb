"""The venues' official SDKs as clients of Kairos's loopback venues (tests/sdk_clients.rs).

    python venue_clients.py alpaca  REST_URL WS_URL KEY SECRET SYMBOL,SYMBOL N
    python venue_clients.py binance REST_URL WS_URL SYMBOL,SYMBOL N
    python venue_clients.py alpaca-trading TRADING_URL STREAM_URL KEY SECRET SYMBOL PRICE

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


def alpaca_trading(base, ws, key, secret, symbol, price):
    """Orders through alpaca-py's TradingClient, updates through its TradingStream."""
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
    from alpaca.trading.requests import (
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        StopLossRequest,
        TakeProfitRequest,
    )
    from alpaca.trading.stream import TradingStream

    price = float(price)
    client = TradingClient(key, secret, paper=True, url_override=base)
    out = {}
    acct = client.get_account()
    out["account"] = [str(acct.cash), acct.status.value]
    m = client.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, client_order_id="sdk-1"
        )
    )
    out["market"] = [m.client_order_id, m.status.value, m.type.value, str(m.qty)]
    b = client.submit_order(
        MarketOrderRequest(
            symbol=symbol,
            qty=2,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=round(price * 1.5, 2)),
            stop_loss=StopLossRequest(stop_price=round(price * 0.5, 2)),
            client_order_id="sdk-2",
        )
    )
    out["bracket"] = [
        b.order_class.value,
        sorted([leg.type.value, str(leg.limit_price), str(leg.stop_price), leg.side.value] for leg in b.legs or []),
    ]
    lim = client.submit_order(
        LimitOrderRequest(
            symbol=symbol,
            qty=1,
            side=OrderSide.BUY,
            limit_price=round(price * 0.5, 2),
            time_in_force=TimeInForce.DAY,
            client_order_id="sdk-3",
        )
    )
    try:
        client.submit_order(
            MarketOrderRequest(
                symbol=symbol, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, client_order_id="sdk-1"
            )
        )
        out["duplicate"] = "placed"
    except APIError as e:
        out["duplicate"] = [e.status_code, str(e)]
    out["open"] = sorted(o.client_order_id for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)))
    client.cancel_order_by_id(lim.id)
    out["canceled"] = client.get_order_by_client_id("sdk-3").status.value

    stream = TradingStream(key, secret, paper=True, url_override=ws)
    out["updates"] = []

    async def on_update(u):
        out["updates"].append(
            [u.event, u.order.client_order_id, u.price and str(u.price), u.qty and str(u.qty), u.position_qty and str(u.position_qty)]
        )
        fills = [x for x in out["updates"] if x[0] == "fill"]
        if len(fills) >= 2:
            await stream.stop_ws()

    stream.subscribe_trade_updates(on_update)
    asyncio.run(asyncio.wait_for(stream._run_forever(), 60))
    out["positions"] = [[p.symbol, str(p.qty), str(p.avg_entry_price), p.side.value] for p in client.get_all_positions()]
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
    if venue == "alpaca-trading":
        _, _, base, ws, key, secret, sym, price = sys.argv
        result = alpaca_trading(base, ws, key, secret, sym, price)
    elif venue == "alpaca":
        _, _, rest, ws, key, secret, syms, n = sys.argv
        result = alpaca(rest, ws, key, secret, syms.split(","), int(n))
    else:
        _, _, rest, ws, syms, n = sys.argv
        result = binance(rest, ws, syms.split(","), int(n))
    print(json.dumps(result))
