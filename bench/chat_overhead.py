"""TTFT and decode speed: raw llama-cpp-python vs the same prompt through the app.

The app path is the whole product path: Qt main window (offscreen) → chat controller →
engine worker thread → engine process → llama.cpp, and the tokens back into the chat view.
Both sides use the same model, context, threads and greedy sampling, and run alternately in
one process so machine noise hits both alike. Ratios are what to compare.

    python bench/chat_overhead.py [--model PATH] [--runs 5] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROMPT = "Explain in a few sentences how a bicycle works."  # prefixed with a run number
SYSTEM = "You are a helpful assistant."


@dataclass
class Run:
    ttft_s: float
    decode_tps: float
    tokens: int


def raw_run(llm: object, *, prompt: str, max_tokens: int) -> Run:
    import llama_cpp

    assert isinstance(llm, llama_cpp.Llama)
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    stream = llm.create_chat_completion(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.0,
        repeat_penalty=1.0,
        stream=True,
    )
    for chunk in stream:
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            if not tokens:
                first = now
            last = now
            tokens += 1
    return Run(ttft_s=first - started, decode_tps=(tokens - 1) / (last - first), tokens=tokens)


class AppDriver:
    """Sends the prompt through the real main window and times what reaches the view."""

    def __init__(self, model: Path, *, n_ctx: int, n_threads: int, n_threads_batch: int) -> None:
        from PySide6.QtCore import QObject, Slot

        from autoglm_desktop.core.common.types import SamplingSettings
        from autoglm_desktop.core.planning.overrides import save_overrides
        from autoglm_desktop.core.planning.tuner import PlanOverrides
        from autoglm_desktop.qt.app import create_application
        from autoglm_desktop.qt.main_window import MainWindow

        self.app = create_application()
        # The raw side's thread counts, fixed: this measures the app's overhead, not the
        # thread governor (bench/threads.py measures that).
        save_overrides(
            model,
            PlanOverrides(n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch),
        )
        self.window = MainWindow(autoload=False)
        self.window.show()
        self.window.load_model(model)
        self._wait(lambda: self.window.model_info is not None)
        self.sampling = SamplingSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=0)
        outer = self

        class ViewProbe(QObject):
            @Slot(str)
            def on_tokens(self, _text: str) -> None:  # runs on the GUI thread, after the view
                now = time.perf_counter()
                if outer.first is None:
                    outer.first = now
                outer.last = now
                outer.chunks += 1

        self.probe = ViewProbe()
        self.window.worker.tokens.connect(self.probe.on_tokens)
        self.first: float | None = None
        self.last = 0.0
        self.chunks = 0

    def run(self, *, prompt: str, max_tokens: int) -> Run:
        from dataclasses import replace

        controller = self.window.controller
        conversation = controller.new_conversation()
        assert conversation is not None, "the chat history could not be written"
        self.window.store.update_conversation_settings(
            conversation,
            system_prompt=SYSTEM,
            sampling=replace(self.sampling, max_tokens=max_tokens),
        )
        self.first, self.chunks = None, 0
        started = time.perf_counter()
        controller.send(prompt)
        self._wait(lambda: not controller.reply_running)
        assert self.first is not None
        return Run(
            ttft_s=self.first - started,
            decode_tps=(self.chunks - 1) / (self.last - self.first),
            tokens=self.chunks,
        )

    def _wait(self, done: object, timeout_s: float = 300.0) -> None:
        assert callable(done)
        deadline = time.monotonic() + timeout_s
        while not done():
            self.app.processEvents()
            time.sleep(0.0005)
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not answer in time")

    def close(self) -> None:
        self.window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()

    from autoglm_desktop.core.common import paths
    from autoglm_desktop.core.models.starter_model import ensure_starter_model

    model = args.model or ensure_starter_model(models_dir=paths.models_dir()).path
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=args.ctx, swa_full=False, verbose=False)
    with tempfile.TemporaryDirectory() as home:
        os.environ["AUTOGLM_MODELS_DIR"] = str(model.parent)
        paths.set_base_dir(Path(home))
        app = AppDriver(
            model, n_ctx=args.ctx, n_threads=llm.n_threads, n_threads_batch=llm.n_threads_batch
        )
        raw_runs, app_runs = [], []
        for run in range(args.runs + 1):  # run 0 warms both up and is not counted
            # A new question each run: both sides reuse the cached system prompt and must
            # evaluate the question, as in a real chat.
            prompt = f"Question {run}: {PROMPT}"
            raw = raw_run(llm, prompt=prompt, max_tokens=args.max_tokens)
            via_app = app.run(prompt=prompt, max_tokens=args.max_tokens)
            if run:
                raw_runs.append(raw)
                app_runs.append(via_app)
        app.close()
        paths.set_base_dir(None)

    def median(runs: list[Run], field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs)

    print(f"model: {model.name}  n_ctx={args.ctx}  max_tokens={args.max_tokens}  runs={args.runs}")
    print(f"{'metric':<22}{'raw llama-cpp':>15}{'app (view)':>15}{'app / raw':>12}")
    for label, field, unit in (
        ("time to first token", "ttft_s", "s"),
        ("decode speed", "decode_tps", "tok/s"),
        ("tokens per reply", "tokens", ""),
    ):
        raw, via_app = median(raw_runs, field), median(app_runs, field)
        print(f"{label:<22}{raw:>12.3f} {unit:<3}{via_app:>11.3f} {unit:<3}{via_app / raw:>11.3f}")


if __name__ == "__main__":
    main()
