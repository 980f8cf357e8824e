from ninja import NinjaAPI

api = NinjaAPI(title="NBQ runtime API", version="1", urls_namespace="api")
