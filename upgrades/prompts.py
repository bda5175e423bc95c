"""Questions asked by zinstall and configure, answered at the terminal or from a replay file.

Standard library only: zinstall runs this before any virtualenv exists.

Replay files are `key=value` lines with the keys existing vTM automation writes
(`accept-license`, `zeushome`, `admin!password`, ...). `--record-to` writes the
answers given; `--replay-from` takes answers from a file and asks only for what
is missing; `--noninteractive` never waits for input and fails, naming the
question, when an answer is missing. Passwords are never printed.
"""

import getpass
import sys
from collections.abc import Callable

# The replay keys existing vTM automation writes: zinstall's, and configure's (a replay file often holds both).
INSTALL_KEYS = {"accept-license", "zeushome", "zxtm!perform_initial_config", "zxtm!upgrade_or_abort",
                "allow_non_root_install"}
CONFIGURE_KEYS = {"accept-license", "admin!password", "zxtm!license_key", "zxtm!use_invalid_key_license",
                  "zxtm!user", "zxtm!group", "zxtm!unique_bind", "zxtm!bindip", "start_at_boot", "zxtm!cluster",
                  "zlb!admin_hostname", "zlb!admin_port", "zlb!admin_username", "zlb!admin_password",
                  "zxtm!fingerprints_ok", "zxtm!join_new_cluster", "zxtm!clustertipjoin",
                  "zxtm!reconfigure_option", "zxtm!name_option", "zxtm!name", "zxtm!use_ip_for_name"}


class AnswerMissing(SystemExit):
    """Non-interactive and no answer: stop with a message naming the question."""


class Answers:
    """Where answers come from and go to."""

    def __init__(self, *, known_keys: set[str], replay_from: str | None = None, record_to: str | None = None,
                 noninteractive: bool = False, out=None, inp=None):
        self.known_keys = known_keys
        self.replay: dict[str, str] = {}
        self.recorded: dict[str, str] = {}
        self.record_to = record_to
        self.noninteractive = noninteractive
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        if replay_from:
            self.replay = self._read(replay_from)

    def _read(self, path: str) -> dict[str, str]:
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as e:
            raise SystemExit(f"Cannot read the replay file {path}: {e.strerror}") from None
        answers = {}
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep:
                self.say(f"Replay file {path} line {n}: not of the form key=value; ignored")
                continue
            if key not in self.known_keys:
                self.say(f"Replay file {path} line {n}: unknown key '{key}'; ignored")
                continue
            answers[key] = value.strip()
        return answers

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _input(self, prompt: str, secret: bool) -> str:
        if secret and self.inp is sys.stdin and sys.stdin.isatty():
            return getpass.getpass(prompt)
        self.out.write(prompt)
        self.out.flush()
        line = self.inp.readline()
        if not line:
            raise AnswerMissing(f"\nNo answer to '{prompt.strip()}' (end of input)")
        if secret:
            self.out.write("\n")
        return line.rstrip("\r\n")

    def ask(self, key: str, prompt: str, *, default: str | None = None,
            check: Callable[[str], str | None] | None = None, secret: bool = False) -> str:
        """Ask until an answer passes `check` (which returns why an answer is wrong, or None)."""
        shown = f"{prompt} [{default}]: " if default not in (None, "") and not secret else f"{prompt}: "
        if key in self.replay:
            answer = self.replay.pop(key)
            if answer == "" and default is not None:
                answer = default
            why = check(answer) if check else None
            if why is None:
                self.say(shown + ("********" if secret else answer))
                return self._keep(key, answer)
            self.say(f"{shown}{'********' if secret else answer}\n  {why}")
            if self.noninteractive:
                raise AnswerMissing(f"The replay file's answer for '{key}' is not valid: {why}")
        while True:
            if self.noninteractive:
                if default is not None and (check is None or check(default) is None):
                    self.say(shown + ("" if secret else default))
                    return self._keep(key, default)
                raise AnswerMissing(f"No answer for '{key}' ({prompt.strip()}) and --noninteractive was given")
            answer = self._input(shown, secret)
            if answer == "" and default is not None:
                answer = default
            why = check(answer) if check else None
            if why is None:
                return self._keep(key, answer)
            self.say(f"  {why}")

    def ask_new_password(self, key: str, prompt: str, *, check: Callable[[str], str | None]) -> str:
        """A new password: from the replay file, or typed twice (never echoed) until both match."""
        if key in self.replay and check(self.replay[key]) is None:
            self.say(f"{prompt}: ********")
            return self._keep(key, self.replay.pop(key))
        while True:
            password = self.ask(key, prompt, check=check, secret=True)
            if self._input("Re-enter the password: ", True) == password:
                return password
            self.recorded.pop(key, None)
            self.say("  The passwords do not match; please try again.")

    def _keep(self, key: str, answer: str) -> str:
        self.recorded[key] = answer
        return answer

    def save(self) -> None:
        """Write the recorded answers to the --record-to file, if one was given."""
        if not self.record_to:
            return
        with open(self.record_to, "w", encoding="utf-8") as f:
            for key, value in self.recorded.items():
                f.write(f"{key}={value}\n")


def yes_no(default: str) -> Callable[[str], str | None]:
    def check(answer: str) -> str | None:
        return None if answer.strip().lower() in ("y", "yes", "n", "no") else "Please answer Y or N"

    return check


def is_yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")
