"""Template context shared by every page."""


def reader(request):
    """`reader_is_admin`: whether the reader's scope is everything (not whether they are staff)."""
    from tenancy.access import scope_of  # lazily: context processors load before apps in some commands

    user = getattr(request, "user", None)
    return {"reader_is_admin": bool(user and user.is_authenticated and scope_of(user).admin)}


def demo_banner(request):
    # Imported lazily: context processors load before apps are ready in some commands.
    from inventory import demo
    from inventory.models import Cluster
    from tenancy.access import scope_of

    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    demo_clusters = Cluster.objects.restrict(scope_of(request.user)).filter(source=Cluster.Source.DEMO)
    return {
        "demo_clusters": list(demo_clusters.values_list("name", flat=True)),
        "demo_backfill": demo.progress,
    }
