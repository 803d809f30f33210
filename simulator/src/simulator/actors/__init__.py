"""The outside world of the order saga: payment gateway, kitchen and couriers (DESIGN.md §4).

    settings.py   ActorSettings: delays, failure rates, seed (environment names below)
    behaviour.py  what each actor answers to a command, and when (pure)
    replies.py    publishing answers now, or later from a durable schedule in Redis
    handlers.py   the consumer-group handlers (one router per actor)
    app.py        build_service() / create_app(): the actors as one process

| command (stream, group)                        | answers on `<actor>.events`                     |
|------------------------------------------------|-------------------------------------------------|
| payment.authorize (payments.commands, payments)| PAYMENT_DELAY, then payment.authorized, or      |
|                                                | payment.declined (PAYMENT_DECLINE_RATE), or     |
|                                                | nothing (PAYMENT_SILENCE_RATE)                  |
| payment.void / .refund / .capture              | payment.settled(action) at once                 |
| kitchen.prepare (kitchen.commands, kitchen)    | KITCHEN_ACCEPT_DELAY, then kitchen.accepted or  |
|                                                | kitchen.rejected (KITCHEN_REJECT_RATE); after   |
|                                                | KITCHEN_COOK_DELAY kitchen.ready, unless        |
|                                                | cancelled or KITCHEN_SILENCE_RATE               |
| kitchen.cancel                                 | nothing; the ticket is never ready              |
| courier.dispatch (couriers.commands, couriers) | COURIER_PICKUP_DELAY, then courier.picked_up;   |
|                                                | COURIER_TRAVEL_DELAY, then courier.delivered,   |
|                                                | or courier.failed (COURIER_FAIL_RATE)           |

Delays are distributions (`0`, `fixed:MS`, `uniform:A:B`, `exp:MEAN_MS`, `normal:MU:SIGMA`);
`ACTORS_ZERO_DELAY=true` zeroes them all (benchmark mode). Every decision and delay is derived
from (SIM_SEED, order id, question), and every reply's id from (command id, reply type), so a
redelivered command is answered identically and a duplicate reply is recognisable.
"""
