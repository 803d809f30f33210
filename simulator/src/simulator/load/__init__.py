"""`orders-saga simulate`: an open-loop customer load generator and its report.

schedule.py  when each order is sent (constant, ramp, spike), fixed before the run starts
contents.py  what each order contains (seeded) and its Idempotency-Key
histogram.py latency histograms (HdrHistogram)
records.py   what the run observed about each order, and error counters
api.py       the HTTP side: menu, placing an order (with retries), tracking views, refills
tracker.py   following one order over a WebSocket, reconnecting where it left off
invariants.py the checks: every order terminal, versions gap-free, stock conserved
runner.py    the run itself: send on schedule, track, drain, check
report.py    figures, the printed table, JSON, and the last line
chart.py     the PNG chart
cli.py       the `simulate` subcommand's options and entry point
"""
