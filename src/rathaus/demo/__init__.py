"""The demo Kommune: seed data (tenants, users, chart, budget, services) and demo generators (cases,
e-invoices, bank statements). The top room of the house: it may use every app, no app uses it."""
