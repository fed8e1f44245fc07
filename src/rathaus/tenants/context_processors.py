def tenant(request):
    t = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    roles = set(membership.roles) if membership is not None else set()
    return {
        "tenant": t,
        "membership": membership,
        # which staff areas the navigation offers
        "nav_treasury": bool(roles & {"treasury", "accounting", "admin"}),
        "nav_accounting": bool(roles & {"accounting", "admin"}),
    }
