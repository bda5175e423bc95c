"""`manage.py configure` ($ZEUSHOME/zxtm/configure): the post-install configuration program."""

from django.core.management.base import BaseCommand

from upgrades.prompts import AnswerMissing, Answers
from vtmadmin.services.configure import KEYS, configure_run


class Command(BaseCommand):
    help = "Configure this traffic manager (interactive, or from a replay file)."

    def add_arguments(self, parser):
        parser.add_argument("--record-to", metavar="FILE")
        parser.add_argument("--replay-from", metavar="FILE")
        parser.add_argument("--noninteractive", action="store_true", help="never wait for input")
        parser.add_argument("--noloop", action="store_true", help="stop at the first invalid answer")
        parser.add_argument("--nostart", action="store_true", help="do not start the traffic manager at the end")

    def handle(self, *args, record_to=None, replay_from=None, noninteractive=False, noloop=False, nostart=False,
               **options):
        answers = Answers(known_keys=KEYS, replay_from=replay_from, record_to=record_to,
                          noninteractive=noninteractive or noloop)
        try:
            status = configure_run(answers=answers, start=not nostart)
        except AnswerMissing as e:
            answers.save()
            self.stderr.write(str(e).strip())
            raise SystemExit(2) from None
        raise SystemExit(status)
