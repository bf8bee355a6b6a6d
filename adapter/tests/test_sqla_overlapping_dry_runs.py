"""Two dry-run writes that overlap on one SQLite file both run and both roll back.

Each does what a typical handler does: read first ("is this ref taken?"), then insert and commit. Under a
deferred BEGIN the second one's read-to-write upgrade met the first one's write lock and SQLite answered
"database is locked" at once (busy_timeout does not apply to an upgrade): a 500 for a shadow copy that a
cooperating target should have answered. Real threads, a real file, the app's own sessionmaker."""
from __future__ import annotations

import threading
import time
import unittest
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Column, Integer, String, create_engine, select
from sqlalchemy.orm import declarative_base, sessionmaker
from strangler_app import scope as _scope
from strangler_app import sqla

Base = declarative_base()


class Loan(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "loans"
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True)


class OverlappingDryRunsTest(unittest.TestCase):
    def test_both_writes_succeed_and_neither_is_committed(self) -> None:
        with TemporaryDirectory() as tmp:
            engine = create_engine("sqlite:///%s" % (Path(tmp) / "loans.db"),
                                   connect_args={"check_same_thread": False, "timeout": 30})  # the queue's bound
            Base.metadata.create_all(engine)
            factory = sqla.install(sessionmaker(bind=engine))
            first_wrote, second_started = threading.Event(), threading.Event()
            errors: list = []

            def handler(ref: str) -> None:
                request = _scope.DryRunScope()
                token = _scope.enter(request)
                try:
                    session = factory()
                    try:
                        if ref == "b":
                            second_started.set()
                        if session.scalar(select(Loan).where(Loan.ref == ref)) is None:
                            session.add(Loan(ref=ref))
                            session.commit()
                        if ref == "a":
                            first_wrote.set()
                            second_started.wait(5)
                            time.sleep(0.3)  # still holding the write lock while the other one reads and writes
                    finally:
                        session.close()
                except Exception as exc:  # noqa: BLE001 - the test reports whatever the handler met
                    errors.append((ref, exc))
                finally:
                    _scope.leave(token)
                    request.close()

            first = threading.Thread(target=handler, args=("a",))
            first.start()
            self.assertTrue(first_wrote.wait(10))
            second = threading.Thread(target=handler, args=("b",))
            second.start()
            first.join(20)
            second.join(20)
            self.assertEqual(errors, [])
            with engine.connect() as connection:
                self.assertEqual(connection.execute(select(Loan)).all(), [])  # both rolled back
            engine.dispose()


if __name__ == "__main__":
    unittest.main()
