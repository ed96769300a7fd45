"""Acknowledged writes survive `kill -9` with commitlog_sync: batch, and a clean restart loses nothing."""

import threading
import time


def _setup(session):
    session.execute("CREATE KEYSPACE d WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE d.t (k int PRIMARY KEY, v text)")


def test_batch_commitlog_survives_kill9(node_factory):
    node = node_factory(extra_yaml="commitlog_sync: batch\n").start()
    cluster = node.cluster()
    session = cluster.connect()
    _setup(session)
    insert = session.prepare("INSERT INTO d.t (k, v) VALUES (?, ?)")
    acked = []
    stop = threading.Event()

    def writer(offset):
        k = offset
        while not stop.is_set():
            try:
                session.execute(insert, (k, f"value-{k}"))
            except Exception:
                return
            acked.append(k)
            k += 4

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 300 and time.time() < deadline:
        time.sleep(0.05)
    node.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    cluster.shutdown()
    assert len(acked) >= 300, "the writers made too little progress before the kill"

    node.start()
    cluster = node.cluster()
    session = cluster.connect()
    stored = {row.k: row.v for row in session.execute("SELECT k, v FROM d.t")}
    missing = [k for k in acked if stored.get(k) != f"value-{k}"]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:10]}"
    cluster.shutdown()


def test_clean_restart_keeps_everything(node_factory):
    node = node_factory().start()
    cluster = node.cluster()
    session = cluster.connect()
    _setup(session)
    for k in range(200):
        session.execute("INSERT INTO d.t (k, v) VALUES (%s, %s)", (k, str(k)))
    cluster.shutdown()
    node.stop()
    node.start()
    cluster = node.cluster()
    session = cluster.connect()
    assert session.execute("SELECT count(*) FROM d.t").one()[0] == 200
    assert session.execute("SELECT v FROM d.t WHERE k = 123").one().v == "123"
    cluster.shutdown()
