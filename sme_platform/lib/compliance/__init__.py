"""The compliance report: what the platform did over a period, from the tables that recorded
it (figures.py), written as rows of reports.compliance_* and as one printable HTML file
(render.py)."""
