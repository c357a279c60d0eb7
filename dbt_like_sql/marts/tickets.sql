/*
description: >
  Support tickets with the customer's segment, ready for triage analysis.
  Grain: one row per ticket.
owner: team:support
tests:
  - unique: [ticket_id]
  - not_null: [ticket_id, opened_on]
  - accepted_values:
      column: status
      values: [new, open, in_progress, on_hold, resolved, closed, cancelled]
      severity: warn
*/
with final as (
    select
        tickets.*,
        customers.segment as customer_segment
    from staging.tickets as tickets
    left join staging.customers as customers using (customer_id)
)

select * from final
