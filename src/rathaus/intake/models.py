# Submissions are stored as cases (rathaus.cases.models.Case) with their idempotency key.
