"""The binding as users compose it: many waits on one loop, waits in two loops at once, ports
released while a task awaits them, loops and processes ending with waits pending, signals,
stalled and killed peers. The other side runs in processes of its own (compose_peer.py, the C++
example server)."""

import asyncio
import gc
import glob
import itertools
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import floe
from compose_peer import compose_service
from conftest import HERE, example, wait_until
from payloads import open_service

WAIT_SECONDS = 10  # the bound of every wait below that should end at once


class Process:
    """A peer with its stdin, stdout and stderr piped; killed at the test's end if alive."""

    def __init__(self, args):
        self.popen = subprocess.Popen([str(arg) for arg in args], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def expect_line(self, line, timeout=WAIT_SECONDS):
        """Reads stdout up to the next line; fails the test unless it is `line`."""
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        got = self.popen.stdout.readline().strip() if ready else None
        assert got == line, f"expected {line!r}, got {got!r}; stderr: {self.stderr_now()}"

    def stderr_now(self):
        if self.popen.poll() is None:
            return "(still running)"
        return self.popen.stderr.read()

    def tell(self, line):
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def finish(self, timeout=WAIT_SECONDS):
        """Waits for it to exit by itself: (exit code, stdout, stderr)."""
        out, err = self.popen.communicate(timeout=timeout)
        return self.popen.returncode, out, err

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.communicate(timeout=WAIT_SECONDS)


@pytest.fixture
def process():
    """process(*args): a peer Process, killed at the test's end."""
    started = []

    def start(*args):
        started.append(Process(args))
        return started[-1]

    yield start
    for peer in started:
        if peer.popen.poll() is None:
            os.kill(peer.popen.pid, signal.SIGCONT)  # a stopped peer dies only when resumed
        peer.kill()


def compose_peer(process, *args):
    return process(sys.executable, os.path.join(HERE, "compose_peer.py"), *args)


def stop(peer):
    """Ends a peer (a conftest Peer) with SIGTERM, as it ends on Ctrl-C: its ports go, and with
    them its shared memory (a SIGKILLed peer's stays until a peer of its service cleans up)."""
    peer.process.terminate()
    code, _, err = peer.finish()
    assert code == 0, err


# Many waits on one loop --------------------------------------------------------------------

def wait_plans(count):
    """(waits, orders): `count` waits, half of them on servers of services of their own, the
    others `async for` over pending responses; every order they may start in (random ones for
    many)."""
    services = count // 2
    waits = [("server", i) for i in range(services)] + [("pending", j)
                                                        for j in range(count - services)]
    if count <= 3:
        return waits, list(itertools.permutations(waits))
    rng = random.Random(count)
    return waits, [rng.sample(waits, count) for _ in range(3)]


class Waits:
    """The ports of a wake scenario in this process: a server of each Compose/<i>, a client of
    Compose/Answer with one request per pending wait. compose_peer.py wake is the other side."""

    def __init__(self, process, waits, seed):
        services = sum(kind == "server" for kind, _ in waits)
        self.pending_count = len(waits) - services
        node = floe.Node.create("composition")
        self.servers = [compose_service(node, i).server_builder().create()
                        for i in range(services)]
        self.peer = compose_peer(process, "wake", services, self.pending_count, seed)
        self.peer.expect_line("ready")
        client = compose_service(node, "Answer").client_builder().create()
        wait_until(lambda: client.number_of_servers() == 1, WAIT_SECONDS, "the peer's server")
        self.pendings = [client.send_copy(1000 + j) for j in range(self.pending_count)]

    async def one(self, kind, index):
        """One wait: what it received, to be compared with what its port was sent."""
        if kind == "server":
            with await self.servers[index].receive_async() as active:
                return [active.payload().value]
        responses = []
        async for response in self.pendings[index]:
            with response:
                responses.append(response.payload().x)
        return responses

    async def all(self, order, started=None):
        """Starts the waits in `order`, tells the peer to go once all wait, and returns what
        each received, by wait."""
        tasks = {wait: asyncio.ensure_future(self.one(*wait)) for wait in order}
        await asyncio.sleep(0)  # each task ran up to its wait, which is in the loop's reactor
        assert not any(task.done() for task in tasks.values())
        if started is None:
            self.peer.tell("go")
        else:
            started.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks.values()), WAIT_SECONDS)
        return dict(zip(tasks, results))

    def expected(self):
        return {**{("server", i): [i] for i in range(len(self.servers))},
                **{("pending", j): [1000 + j] for j in range(self.pending_count)}}

    def end(self):
        self.peer.expect_line("done")
        self.peer.tell("end")
        code, _, err = self.peer.finish()
        assert code == 0, err
        for pending in self.pendings:
            pending.release()


@pytest.mark.parametrize("count", [2, 3, 64])
def test_every_wait_on_one_loop_is_woken_with_exactly_its_own_messages(domain, process, count):
    waits, orders = wait_plans(count)
    for seed, order in enumerate(orders):
        scenario = Waits(process, waits, seed)
        received = asyncio.run(scenario.all(order))
        assert received == scenario.expected(), f"started in the order {order}"
        scenario.end()


@pytest.mark.parametrize("count", [2, 3])
def test_several_waits_on_one_server_each_take_one_request(domain, count):
    node = floe.Node.create("composition")
    server = compose_service(node, 0).server_builder().create()
    client = compose_service(node, 0).client_builder().create()

    async def run():
        tasks = [asyncio.ensure_future(server.receive_async()) for _ in range(count)]
        await asyncio.sleep(0)
        pendings = [client.send_copy(n) for n in range(count)]
        done = await asyncio.wait_for(asyncio.gather(*tasks), WAIT_SECONDS)
        values = sorted(active.payload().value for active in done)
        for message in done + pendings:
            message.release()
        return values

    assert asyncio.run(run()) == list(range(count))


def test_a_wait_cancelled_after_it_took_a_request_hands_it_to_another_wait(domain):
    node = floe.Node.create("composition")
    server = compose_service(node, 0).server_builder().create()
    client = compose_service(node, 0).client_builder().create()

    async def run():
        tasks = [asyncio.ensure_future(server.receive_async()) for _ in range(2)]
        await asyncio.sleep(0)
        pending = client.send_copy(5)
        time.sleep(0.05)  # the doorbell rang: the loop's next look completes one wait,
        await asyncio.sleep(0)  # and the one after it resumes this before that wait's task:
        await asyncio.sleep(0)
        # the task whose awaited future is done took the request (_fut_waiter: asyncio's).
        took = [task._fut_waiter is not None and task._fut_waiter.done() for task in tasks]
        assert took.count(True) == 1 and not any(task.done() for task in tasks)
        taker, other = tasks if took[0] else reversed(tasks)
        taker.cancel()  # it ends cancelled, keeping the request it took for the server
        with pytest.raises(asyncio.CancelledError):
            await taker
        with await asyncio.wait_for(other, 0.5) as active:  # not left asleep on an empty queue
            assert active.payload().value == 5
        pending.release()

    asyncio.run(run())


@pytest.mark.parametrize("seed", range(3))
def test_waits_on_one_server_cancelled_at_random_lose_and_repeat_no_request(domain, process,
                                                                             seed):
    server = compose_service(floe.Node.create("composition"), 0).server_builder().create()
    sender = compose_peer(process, "send", 64, seed)
    rng = random.Random(seed)
    received = []

    async def receiver():
        while len(received) < 64:
            try:  # timeouts of 0 to 2 ms: many end while a request is on its way
                active = await asyncio.wait_for(server.receive_async(), rng.random() * 0.002)
            except asyncio.TimeoutError:
                continue
            with active:
                received.append(active.payload().value)

    async def run():
        receivers = [asyncio.ensure_future(receiver()) for _ in range(6)]
        await asyncio.wait_for(asyncio.wait(receivers, return_when=asyncio.FIRST_COMPLETED),
                               WAIT_SECONDS)
        for task in receivers:
            task.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)

    asyncio.run(run())
    sender.expect_line("sent")
    assert sorted(received) == list(range(64))
    assert server.receive() is None
    sender.tell("end")
    code, _, err = sender.finish()
    assert code == 0, err


def test_waits_in_two_event_loops_in_two_threads_at_once(domain, process):
    waits = [("server", 0), ("server", 1), ("pending", 0), ("pending", 1)]
    scenario = Waits(process, waits, 0)
    split = [[("server", 0), ("pending", 0)], [("pending", 1), ("server", 1)]]
    started = [threading.Event(), threading.Event()]
    results = [None, None]

    def thread(n):
        results[n] = asyncio.run(scenario.all(split[n], started[n]))

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for event in started:
        assert event.wait(WAIT_SECONDS)
    scenario.peer.tell("go")
    for t in threads:
        t.join(WAIT_SECONDS)
        assert not t.is_alive()
    assert {**results[0], **results[1]} == scenario.expected()
    scenario.end()


# Ports released while a task awaits them ---------------------------------------------------

def test_releasing_a_server_ends_its_pending_wait_as_cancelled(domain):
    server = compose_service(floe.Node.create("n"), 0).server_builder().create()

    async def run():
        waiting = asyncio.ensure_future(server.receive_async())
        await asyncio.sleep(0.01)
        server.release()  # as destroying a floe::Server mid-wait: the wait ends cancelled
        with pytest.raises(floe.Cancelled):
            await asyncio.wait_for(waiting, WAIT_SECONDS)
        with pytest.raises(floe.ReleasedError):
            await server.receive_async()

    asyncio.run(run())


def test_releasing_a_pending_response_ends_its_async_for_as_cancelled(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = open_service(floe.Node.create("n")).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, WAIT_SECONDS, "a server")

    async def run():
        pending = client.send_copy(5)  # a first response now, 3 more 100 ms apart

        async def read():
            return [response.payload().x async for response in pending]

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.05)
        pending.release()  # mid-stream, from another task
        with pytest.raises(floe.Cancelled):
            await asyncio.wait_for(reading, WAIT_SECONDS)

    asyncio.run(run())
    stop(server)


def test_releasing_a_server_from_another_thread_ends_the_wait_at_once(domain):
    server = compose_service(floe.Node.create("n"), 0).server_builder().create()

    async def run():
        waiting = asyncio.ensure_future(server.receive_async())
        await asyncio.sleep(0.01)
        releasing = threading.Thread(target=lambda: (time.sleep(0.05), server.release()))
        started = time.monotonic()
        releasing.start()
        with pytest.raises(floe.Cancelled):
            await asyncio.wait_for(waiting, WAIT_SECONDS)
        releasing.join()
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert elapsed < 0.5, f"the wait ended {elapsed:.3f} s after the release"


def test_a_pending_response_outlives_its_client_node_and_service(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    node = floe.Node.create("n")
    service = open_service(node)
    client = service.client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, WAIT_SECONDS, "a server")

    async def run(pending):
        reading = asyncio.ensure_future(
            asyncio.wait_for(collect_values(pending), WAIT_SECONDS))
        await asyncio.sleep(0.01)
        ports[0].release()  # the client, while a task awaits its stream
        ports.clear()  # the node dropped before its ports
        gc.collect()
        return await reading

    pending = client.send_copy(2)  # 1 + 3 responses, the last 300 ms later
    ports = [client, service, node]
    client = service = node = None
    assert asyncio.run(run(pending)) == [(5, 0), (0, 0), (0, 1), (0, 2)]
    pending.release()
    stop(server)


async def collect_values(pending):
    values = []
    async for response in pending:
        with response:
            values.append((response.payload().x, response.payload().y))
    return values


def test_deleting_a_port_others_await_leaves_the_wait_working(domain):
    node = floe.Node.create("n")
    server = compose_service(node, 0).server_builder().create()
    client = compose_service(node, 0).client_builder().create()

    async def run(holder):
        waiting = asyncio.ensure_future(holder.pop().receive_async())
        await asyncio.sleep(0.01)
        gc.collect()  # the last reference is the awaiting task's: the server stays
        pending = client.send_copy(7)
        active = await asyncio.wait_for(waiting, WAIT_SECONDS)
        assert active.payload().value == 7
        active.release()
        pending.release()

    holder = [server]
    del server
    asyncio.run(run(holder))


# Loops and processes ending with waits pending ---------------------------------------------

def script(body):
    """Popen's arguments for a Python process running `body` after the imports the scripts of
    these tests need."""
    source = textwrap.dedent("""\
        import asyncio, gc
        import floe
        from compose_peer import compose_service
        """) + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    return {"args": [sys.executable, "-c", source], "env": env, "text": True}


def run_script(domain, body):
    """Runs `body` in a Python process of its own: (exit code, stdout, stderr). Nothing of its
    domain may be left in /dev/shm after."""
    done = subprocess.run(**script(body), capture_output=True, timeout=WAIT_SECONDS)
    assert glob.glob(f"/dev/shm/floe.{domain}.*") == [], done.stderr
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("ending", ["asyncio.run returns", "loop closed", "interpreter exits"])
def test_a_loop_ending_with_waits_pending_ends_cleanly(domain, ending):
    body = {
        # asyncio.run cancels the tasks left: the waits end cancelled.
        "asyncio.run returns": """
            async def main():
                for _ in range(3):
                    asyncio.ensure_future(server.receive_async())
                    asyncio.ensure_future(pending.receive_async())
                await asyncio.sleep(0.01)
            asyncio.run(main())
            """,
        # A loop closed under its waits, tasks never cancelled, ports released after it.
        "loop closed": """
            loop = asyncio.new_event_loop()
            tasks = [loop.create_task(server.receive_async()),
                     loop.create_task(pending.receive_async())]
            loop.run_until_complete(asyncio.sleep(0.01))
            loop.close()
            server.release()
            pending.release()
            del tasks, loop
            gc.collect()
            """,
        # Everything still referenced while the interpreter finalizes.
        "interpreter exits": """
            loop = asyncio.new_event_loop()
            tasks = [loop.create_task(server.receive_async()),
                     loop.create_task(pending.receive_async())]
            loop.run_until_complete(asyncio.sleep(0.01))
            """,
    }[ending]
    code, out, err = run_script(domain, textwrap.dedent("""
        node = floe.Node.create("ending")
        server = compose_service(node, 0).server_builder().create()
        client = compose_service(node, 1).client_builder().create()
        other = compose_service(node, 1).server_builder().create()
        pending = client.send_copy(1)  # open: `other` never answers
        """) + textwrap.dedent(body) + 'print("end", flush=True)\n')
    assert code == 0, err
    assert out == "end\n"
    assert "Fatal" not in err and "Segmentation" not in err, err
    assert "Exception ignored" not in err, err  # nothing woke a future of a closed loop


def test_event_loops_that_waited_leave_no_fd_behind(domain):
    server = compose_service(floe.Node.create("n"), 0).server_builder().create()

    async def time_out():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(server.receive_async(), 0.001)

    asyncio.run(time_out())  # the first loop may leave what lives as long as the process
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        asyncio.run(time_out())
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == fds


def test_sigint_during_asyncio_run_of_a_serving_loop_raises_keyboard_interrupt(domain):
    serving = subprocess.Popen(**script("""
        async def serve(server):
            print("serving", flush=True)
            while True:
                (await server.receive_async()).release()
        node = floe.Node.create("serving")
        server = compose_service(node, 0).server_builder().create()
        asyncio.run(serve(server))
        """), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # SIGINT as a terminal delivers it: a job a shell started in the background inherits it
        # ignored, and Python then leaves it ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        ready, _, _ = select.select([serving.stdout], [], [], WAIT_SECONDS)
        assert ready and serving.stdout.readline() == "serving\n"
        time.sleep(0.05)  # it sleeps in the selector now
        serving.send_signal(signal.SIGINT)
        _, err = serving.communicate(timeout=WAIT_SECONDS)
    finally:
        serving.kill()
    assert "KeyboardInterrupt" in err, err
    assert serving.returncode == -signal.SIGINT, err
    assert glob.glob(f"/dev/shm/floe.{domain}.*") == []


# Stalled and killed peers ------------------------------------------------------------------

def test_a_stopped_client_does_not_freeze_an_asyncio_server_serving_another(domain, process):
    server = compose_peer(process, "stream-server")
    server.expect_line("ready")
    stopped = compose_peer(process, "client", 100000)
    stopped.expect_line("sent")
    os.kill(stopped.popen.pid, signal.SIGSTOP)  # its buffer fills: the server must go on
    client = compose_service(floe.Node.create("n"), "Stream").client_builder().create()

    async def run():
        streams = []
        for _ in range(20):
            with client.send_copy(8) as pending:  # fits the response buffer: nothing dropped
                values = await asyncio.wait_for(collect_values(pending), 2)
                streams.append([x for x, _ in values])
        return streams

    started = time.monotonic()
    assert asyncio.run(run()) == [list(range(8))] * 20
    assert time.monotonic() - started < WAIT_SECONDS
    os.kill(stopped.popen.pid, signal.SIGCONT)
    for peer in (stopped, server):
        peer.popen.terminate()
        code, _, err = peer.finish()
        assert code == 0, err


def test_sigkill_of_the_server_ends_every_pending_async_for(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = open_service(floe.Node.create("n")).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, WAIT_SECONDS, "a server")

    async def run():
        pendings = [client.send_copy(2) for _ in range(4)]  # each: 1 + 3 responses, 300 ms
        firsts = [asyncio.Event() for _ in pendings]

        async def read(pending, first):
            count = 0
            async for response in pending:
                response.release()
                count += 1
                first.set()
            return count

        tasks = [asyncio.ensure_future(read(p, f)) for p, f in zip(pendings, firsts)]
        await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), WAIT_SECONDS)
        server.process.kill()
        killed = time.monotonic()
        counts = await asyncio.wait_for(asyncio.gather(*tasks), WAIT_SECONDS)
        elapsed = time.monotonic() - killed
        for pending in pendings:
            pending.release()
        return counts, elapsed

    counts, elapsed = asyncio.run(run())
    assert server.finish()[0] == -signal.SIGKILL  # reaped, its pipes closed
    assert all(1 <= count <= 4 for count in counts), counts
    assert elapsed < 0.5, f"the streams ended {elapsed:.3f} s after the SIGKILL"
