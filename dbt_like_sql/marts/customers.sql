/*
description: >
  Customers with their order history. Name, email and phone are PII: the analyst database
  masks them as staging.customers declares (inherited through the column lineage).
  Grain: one row per customer.
owner: team:data
tests:
  - unique: [customer_id]
  - not_null: [customer_id]
*/
with orders as (
    select
        customer_id,
        count(distinct order_id) as orders,
        sum(net_amount) as revenue,
        min(order_date) as first_order_on,
        max(order_date) as last_order_on
    from staging.sales_lines
    where customer_id is not null
    group by all
),

tickets as (
    select customer_id, count(*) as tickets
    from staging.tickets
    where customer_id is not null
    group by all
),

final as (
    select
        customers.*,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.revenue, 0) as revenue,
        orders.first_order_on,
        orders.last_order_on,
        coalesce(tickets.tickets, 0) as tickets
    from staging.customers as customers
    left join orders using (customer_id)
    left join tickets using (customer_id)
)

select * from final
