#!/usr/bin/env python3
"""Writes the Parquet fixtures of tests/parquet_types.rs with pyarrow: the same three bars of
one symbol stored with each column type a Parquet writer may produce for numbers and times.

usage: python3 scripts/make_parquet_fixtures.py   (needs: pip install pyarrow)
"""
import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "parquet")
DATES = [dt.date(2022, 1, 3), dt.date(2022, 1, 4), dt.date(2022, 1, 5)]
OPEN, HIGH, LOW, CLOSE = [17.87, 18.0, 18.25], [18.5, 18.5, 18.75], [17.5, 17.75, 18.0], [18.0, 18.25, 18.5]
VOLUME = [1500, 2250, 3000]


def table(time_col, time_type, times, price_type, volume_type, symbol_type=pa.string()):
    def prices(v):
        if pa.types.is_decimal(price_type):
            import decimal
            return pa.array([decimal.Decimal(str(x)) for x in v], type=price_type)
        return pa.array(v, type=price_type)
    return pa.table({
        "symbol": pa.array(["ABC"] * 3, type=pa.string()).cast(symbol_type),
        time_col: pa.array(times, type=time_type),
        "open": prices(OPEN), "high": prices(HIGH), "low": prices(LOW), "close": prices(CLOSE),
        "volume": pa.array(VOLUME, type=volume_type),
    })


def main():
    os.makedirs(OUT, exist_ok=True)
    naive = [dt.datetime(2022, 1, 3, 9, 31), dt.datetime(2022, 1, 3, 9, 32), dt.datetime(2022, 1, 3, 9, 33)]
    # 14:31 UTC = 09:31 in New York (EST).
    zoned = [dt.datetime(2022, 1, 3, 14, 31, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=k) for k in range(3)]
    cases = {
        "float64_date32": table("date", pa.date32(), DATES, pa.float64(), pa.int64()),
        "float32_int32": table("date", pa.date32(), DATES, pa.float32(), pa.int32()),
        "int64_prices": table("date", pa.date32(), DATES, pa.int64(), pa.int64()),
        "uint32_volume": table("date", pa.date32(), DATES, pa.float64(), pa.uint32()),
        "int16_volume": table("date", pa.date32(), DATES, pa.float64(), pa.int16()),
        "decimal_prices": table("date", pa.date32(), DATES, pa.decimal128(12, 2), pa.int64()),
        "naive_timestamp": table("timestamp", pa.timestamp("us"), naive, pa.float64(), pa.int64()),
        "zoned_timestamp": table("timestamp", pa.timestamp("ns", tz="UTC"), zoned, pa.float64(), pa.int64()),
        "dictionary_symbol": table("date", pa.date32(), DATES, pa.float64(), pa.int64(),
                                   pa.dictionary(pa.int32(), pa.string())),
        "string_everything": table("date", pa.date32(), DATES, pa.float64(), pa.int64()).cast(
            pa.schema([(n, pa.string()) for n in ["symbol", "date", "open", "high", "low", "close", "volume"]])),
    }
    for name, t in cases.items():
        pq.write_table(t, os.path.join(OUT, f"{name}.parquet"))
    print(f"wrote {len(cases)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
