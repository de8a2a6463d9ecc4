"""Template context shared by every page."""


def demo_banner(request):
    # Imported lazily: context processors load before apps are ready in some commands.
    from inventory import demo
    from inventory.models import Cluster

    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "demo_clusters": list(
            Cluster.objects.filter(source=Cluster.Source.DEMO).values_list("name", flat=True)
        ),
        "demo_backfill": demo.progress,
    }
