def tenant(request):
    t = getattr(request, "tenant", None)
    return {"tenant": t, "membership": getattr(request, "membership", None)}
