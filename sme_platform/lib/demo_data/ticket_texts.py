"""Subject and body templates of support tickets, by category.

Placeholders: {product} (product name), {order} (order or return number), {name} (how the
customer signs). Rendering is vectorised in tickets.py.
"""

from __future__ import annotations

TEMPLATES_PER_CATEGORY = 3  # each category offers this many (subject, body) variants

TICKET_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "billing": (
        ("Invoice question about order {order}",
         "Hello, I was charged twice for the {product} in order {order}. Could you please check "
         "the payment and refund the duplicate charge? Best regards, {name}"),
        ("Wrong price on invoice {order}",
         "Hi, the invoice for order {order} shows a higher price for the {product} than the "
         "price on your website. Please send a corrected invoice. Thanks, {name}"),
        ("VAT invoice for order {order}",
         "Dear Northwind Living team, for our accounts we need a VAT invoice covering the "
         "{product} from order {order}. Kind regards, {name}"),
    ),
    "delivery": (
        ("Where is my order {order}?",
         "Hello, my order {order} was confirmed but has not arrived yet. It contains the "
         "{product}. Can you tell me when it will be delivered? Best regards, {name}"),
        ("Order {order} incomplete",
         "Hi, I received order {order} but the {product} was missing from the parcel. Please let "
         "me know when the rest will ship. Thanks, {name}"),
        ("Delivery date for {order}",
         "Dear team, the {product} in order {order} is shown as out of stock. Is there a new "
         "delivery date, or should I cancel this item? Kind regards, {name}"),
    ),
    "product_defect": (
        ("Damaged item in order {order}",
         "Hello, the {product} from order {order} arrived damaged: the box was crushed and the "
         "item is cracked. I would like a replacement. Best regards, {name}"),
        ("Faulty {product}",
         "Hi, after only two weeks the {product} (order {order}) is already coming apart. Is "
         "this covered by the warranty? Thanks, {name}"),
        ("Quality issue with order {order}",
         "Dear Northwind Living team, the {product} we bought with order {order} has a visible "
         "defect. Photos are attached. Kind regards, {name}"),
    ),
    "returns": (
        ("Refund for return {order}",
         "Hello, I returned the {product} last week (return {order}) and have not received my "
         "refund yet. Best regards, {name}"),
        ("Return label request {order}",
         "Hi, I would like to send back another {product} like the one in return {order}, "
         "because it does not fit our room. Please send me a return label. Thanks, {name}"),
        ("Refund amount for {order}",
         "Dear team, the refund for the {product} in return {order} is lower than what I paid. "
         "Could you check it? Kind regards, {name}"),
    ),
    "account": (
        ("Cannot log in",
         "Hello, I cannot log in to my customer account since my last order {order} with the "
         "{product}. The password reset email never arrives. Best regards, {name}"),
        ("Change my address",
         "Hi, please update the delivery address on my account before my next order; my last "
         "one was {order} ({product}). Thanks, {name}"),
        ("Marketing preferences",
         "Dear team, please stop the marketing emails I get since order {order} ({product}), "
         "but keep my account. Kind regards, {name}"),
    ),
    "other": (
        ("Question about the {product}",
         "Hello, does the {product} come in other colours? I bought one with order {order} and "
         "would like a second one. Best regards, {name}"),
        ("Feedback on my visit",
         "Hi, just wanted to say thanks for the friendly help when I bought the {product} "
         "(receipt {order}). {name}"),
        ("Gift card with order {order}",
         "Dear team, can I use a gift card to pay for the {product} like in order {order}? "
         "Kind regards, {name}"),
    ),
}  # fmt: skip
