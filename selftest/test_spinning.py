"""tcp.backpressure.slow-reader's parts: the judgment of a stalled server's threads on synthetic
samples, the folding of samples, the thread sampler on real processes that spin and sleep, and the
counters of a server's socket on an in-process connection."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time

import psutil
import pytest

from sockcheck.judgments import causes
from sockcheck.judgments.backpressure import describe_thread, describe_threads, judge_stall, spinning
from sockcheck.launch.threads import ThreadActivity, ThreadSample, activities, sample_threads, sample_window
from sockcheck.net.socket_progress import ProgressReader, push_until_still
from sockcheck.polling import poll_until

TIMEOUT = 5.0  # seconds any one step may take, far above what each needs


def thread(states: str, cpu: float = 0.0, sleeps: int = 0, wchan: str = "wait_woken", tid: int = 7) -> ThreadActivity:
    return ThreadActivity(f"pid 7 tid {tid} (srv)", states, cpu, sleeps, wchan)


# The judgment: over a window in which the server moved no byte, no thread may spin.

@pytest.mark.parametrize("activity", [
    thread("S" * 20),  # asleep in write() throughout: the textbook blocking server
    thread("SSRSSSSSSSSSSSSSSSSS", cpu=0.001, sleeps=2),  # a housekeeping timer caught once, queued on a busy CPU
    thread("S" * 20, sleeps=16, wchan="futex_do_wait"),  # a runtime's 20 Hz tick (a JVM's periodic task)
    thread("RRRRSSSSSS", cpu=0.01),  # runnable in fewer than half of the samples, little CPU, few wakeups
    thread("RRR", cpu=0.02),  # seen three times only (it started or ended in the window): not judged by states
], ids=["asleep", "timer-caught-once", "housekeeping-tick", "under-half", "too-few-samples"])
def test_a_waiting_thread_passes_whatever_the_load(activity):
    assert spinning(activity, 0.8) is None
    assert judge_stall([activity], 0.8) is None


@pytest.mark.parametrize(("activity", "why"), [
    (thread("R" * 20, cpu=0.79, wchan=""), "runnable in 20 of 20 samples"),  # spinning on an idle machine
    # The same loop with four CPU hogs on two cores: granted little CPU, but never asleep.
    (thread("R" * 20, cpu=0.12, wchan=""), "runnable in 20 of 20 samples"),
    (thread("RRRRRSSSSS", cpu=0.1), "runnable in 5 of 10 samples"),  # half: the boundary spins
    (thread("S" * 20, cpu=0.2), "0.20 s on a CPU"),  # a quarter of the window, however the samples fell
    (thread("S" * 20, cpu=0.01, sleeps=640), "woken 800 times a second"),  # usleep(1000) on EAGAIN
    (thread("SSRSRSSSSRSSSSS", cpu=0.0, sleeps=2800), "woken 3500 times a second"),  # spurious wakeups, little CPU
], ids=["spin-idle", "spin-loaded", "half-runnable", "cpu-quarter", "sleeps-a-millisecond", "spurious-wakeups"])
def test_a_thread_that_does_not_wait_spins(activity, why):
    assert spinning(activity, 0.8) == why
    finding = judge_stall([activity, thread("S" * 20, tid=8)], 0.8)
    assert finding is not None and finding.cause == causes.BUSY_LOOP
    assert str(finding) == ("backpressure: expected every thread waiting while the server could move no byte "
                            f"(0.80 s, its client not reading); got a busy loop: 2 threads: pid 7 tid 7 (srv) {why} "
                            f"(states {activity.states}, {activity.cpu:.2f} s of CPU, slept {activity.sleeps} times); "
                            "1 waiting (wait_woken 1)")


def test_judge_stall_names_the_busy_loop_cause():
    assert judge_stall.causes == frozenset({causes.BUSY_LOOP})


def test_threads_are_summed_up_by_where_they_wait():
    threads = [thread("SSSS", wchan="futex_do_wait", tid=n) for n in range(3)] + [thread("SSSS", wchan="ep_poll")]
    assert describe_threads(threads, 0.5) == "4 threads, all waiting (futex_do_wait 3, ep_poll 1)"
    assert describe_threads([thread("RRR", wchan="")], 0.5) == "1 thread, all waiting (? 1)"
    assert describe_threads([], 0.5) == "no thread seen"
    assert describe_thread(thread("SS", cpu=0.004, sleeps=1)) == (
        "pid 7 tid 7 (srv): states SS, 0.00 s of CPU, slept 1 time, in wait_woken")


# Folding samples into one activity per thread.

def sample(tid: int, state: str, cpu_ms: int, sleeps: int, wchan: str = "") -> ThreadSample:
    return ThreadSample(40, tid, "srv", state, cpu_ms * 1_000_000, sleeps, wchan)


def test_samples_fold_into_each_threads_states_and_what_it_used_between_its_first_and_last():
    rounds = [[sample(40, "S", 100, 5, "poll_schedule_timeout"), sample(41, "R", 200, 9)],
              [sample(40, "S", 100, 5, "poll_schedule_timeout"), sample(41, "R", 450, 9), sample(42, "S", 3, 1, "x")],
              [sample(40, "S", 100, 5, "poll_schedule_timeout"), sample(41, "S", 700, 10, "wait_woken")]]
    assert activities(rounds) == [
        ThreadActivity("pid 40 tid 40 (srv)", "SSS", 0.0, 0, "poll_schedule_timeout"),
        ThreadActivity("pid 40 tid 41 (srv)", "RRS", 0.5, 1, "wait_woken"),
        ThreadActivity("pid 40 tid 42 (srv)", "S", 0.0, 0, "x"),  # seen once: nothing to subtract
    ]


# The sampler on real processes: a spinning process is R and a sleeping one S, however busy the machine.

@pytest.fixture
def spinner_and_sleeper():
    code = {"spin": "print('ready', flush=True)\nwhile True: pass",
            "sleep": "import time; print('ready', flush=True); time.sleep(60)"}
    procs = {name: subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE)
             for name, source in code.items()}
    try:
        for proc in procs.values():  # started: past the interpreter's start-up
            assert select.select([proc.stdout], [], [], TIMEOUT)[0] and proc.stdout.readline() == b"ready\n"
        yield {name: psutil.Process(proc.pid) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(TIMEOUT)
            proc.stdout.close()


def test_the_sampler_sees_a_spinning_process_runnable_and_a_sleeping_one_asleep(spinner_and_sleeper):
    spin, sleep = spinner_and_sleeper["spin"], spinner_and_sleeper["sleep"]
    assert poll_until(lambda: sample_threads([sleep]), lambda samples: samples[0].state == "S", TIMEOUT)[0]
    watched = sample_window([spin, sleep], 0.4, 0.04, lambda: True)
    assert watched is not None
    rounds, window = watched
    assert len(rounds) >= 8 and window >= 0.4
    by_pid = {int(a.label.split()[1]): a for a in activities(rounds)}
    spun, slept = by_pid[spin.pid], by_pid[sleep.pid]
    assert spinning(spun, window) is not None, spun
    assert spinning(slept, window) is None, slept
    assert set(slept.states) == {"S"} and slept.cpu < 0.01 and slept.sleeps == 0 and slept.wchan, slept


def test_the_sampler_stops_as_soon_as_the_condition_fails(spinner_and_sleeper):
    answers = iter([True, True, False])
    started = time.monotonic()
    assert sample_window([spinner_and_sleeper["sleep"]], 5.0, 0.01, lambda: next(answers)) is None
    assert time.monotonic() - started < 1.0


# The counters of a server's socket: what its application read and wrote, not what the kernel moved.

@pytest.fixture
def connection():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=TIMEOUT)
        server, _ = listener.accept()
        server.settimeout(TIMEOUT)
        try:
            yield client, server
        finally:
            client.close()
            server.close()


def counters(reader: ProgressReader, done) -> tuple:
    settled, progress = poll_until(reader.read, lambda p: p is not None and done(p), TIMEOUT)
    assert settled, progress
    return progress


def test_the_servers_counters_move_only_when_its_application_reads_or_writes(connection):
    client, server = connection
    with ProgressReader(client) as reader:
        assert reader.read().moved() == (0, 0)
        client.sendall(b"x" * 1000)
        progress = counters(reader, lambda p: p.receive_queue == 1000)
        assert progress.moved() == (0, 0)  # the kernel took the bytes; the server has read none
        assert len(server.recv(300)) == 300
        progress = counters(reader, lambda p: p.read == 300)
        assert (progress.read, progress.receive_queue) == (300, 700)
        server.sendall(b"y" * 500)
        progress = counters(reader, lambda p: p.written == 500 and p.send_queue == 0)
        assert progress.moved() == (300, 500)
        client.recv(500)  # the client reading moves nothing of the server's
        assert reader.read().moved() == (300, 500)


def test_a_connection_the_server_has_closed_has_no_counters(connection):
    client, server = connection
    with ProgressReader(client) as reader:
        server.close()
        client.close()
        assert poll_until(reader.read, lambda p: p is None, TIMEOUT)[0]


def test_pushing_stops_once_the_servers_counters_stand_still(connection):
    client, _server = connection
    marks = iter([1, 2, 3])
    started = time.monotonic()
    sent, still_since = push_until_still(client, b"z" * 4096, 0, lambda: next(marks, 3), quiet=0.05,
                                         until=started + TIMEOUT)
    assert sent == 4096 and still_since is not None and still_since - started < 1.0
    sent, still_since = push_until_still(client, b"z" * 4096, sent, lambda: time.monotonic(), quiet=0.05,
                                         until=time.monotonic() + 0.2)
    assert still_since is None  # it kept moving until the limit
