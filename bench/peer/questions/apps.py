from django.apps import AppConfig


class QuestionsConfig(AppConfig):
    name = "bench.peer.questions"
    label = "peer_questions"
