//! Task supervision, written once: a service's long-running parts (the HTTP server, the outbox
//! relay, the inbox consumers, request/reply servers, pruning, gauges) run as named tasks that
//! must all run until shutdown. One that ends before (an error it returned, a panic, or simply
//! returning) is logged with its name, stops the whole service, and makes
//! `run_until_stopped` return that error: the process exits non-zero and its supervisor
//! (systemd's `Restart=on-failure`, `deploy/systemd/`) starts it again, instead of a lab that
//! serves its console while nothing reads its inbox.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::shutdown::{Shutdown, ShutdownTrigger};

/// A task that ended while it should have been running.
#[derive(Debug, thiserror::Error)]
#[error("{task} stopped: {reason}")]
pub struct TaskFailed {
    pub task: &'static str,
    pub reason: String,
}

/// The named tasks of one service.
pub struct Tasks {
    set: JoinSet<(&'static str, Result<(), String>)>,
    names: Vec<(tokio::task::Id, &'static str)>,
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
}

/// How long tasks may take to finish after shutdown before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(15);

impl Tasks {
    pub fn new(trigger: ShutdownTrigger, shutdown: Shutdown) -> Tasks {
        Tasks {
            set: JoinSet::new(),
            names: Vec::new(),
            trigger,
            shutdown,
        }
    }

    /// Runs `task`, which must run until shutdown (and may fail with an error).
    pub fn spawn<F, E>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let handle = self.set.spawn(async move {
            let outcome = task.await.map_err(|e| e.to_string());
            (name, outcome)
        });
        self.names.push((handle.id(), name));
    }

    /// Runs `task`, which returns nothing and must run until shutdown.
    pub fn spawn_infallible<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    fn name_of(&self, id: tokio::task::Id) -> &'static str {
        self.names
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .unwrap_or("a task")
    }

    /// Waits for every task. The first to end before shutdown (or with an error) stops the
    /// others and is returned; after shutdown, tasks have [`STOP_GRACE`] to finish.
    pub async fn run(mut self) -> Result<(), TaskFailed> {
        let mut failed: Option<TaskFailed> = None;
        loop {
            let next = if self.shutdown.is_triggered() {
                match tokio::time::timeout(STOP_GRACE, self.set.join_next_with_id()).await {
                    Ok(next) => next,
                    Err(_) => {
                        tracing::warn!(
                            left = self.set.len(),
                            "tasks still running {STOP_GRACE:?} after shutdown; aborting them"
                        );
                        self.set.abort_all();
                        while self.set.join_next().await.is_some() {}
                        break;
                    }
                }
            } else {
                self.set.join_next_with_id().await
            };
            let Some(joined) = next else { break };
            let (task, reason) = match joined {
                Ok((_, (name, Ok(())))) if self.shutdown.is_triggered() => {
                    tracing::debug!(task = name, "stopped");
                    continue;
                }
                Ok((_, (name, Ok(())))) => (name, "ended before shutdown".to_string()),
                Ok((_, (name, Err(e)))) => (name, e),
                Err(e) => {
                    let name = self.name_of(e.id());
                    let reason = if e.is_panic() {
                        "panicked".to_string()
                    } else {
                        "was cancelled".to_string()
                    };
                    (name, reason)
                }
            };
            if self.shutdown.is_triggered() && failed.is_some() {
                tracing::warn!(task, %reason, "while stopping");
                continue;
            }
            tracing::error!(task, %reason, "a part of the service stopped; stopping the service");
            if failed.is_none() {
                failed = Some(TaskFailed { task, reason });
            }
            self.trigger.trigger();
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_early_stops_the_others_and_is_named() {
        let (trigger, shutdown) = crate::shutdown::channel();
        let mut tasks = Tasks::new(trigger, shutdown.clone());
        let s = shutdown.clone();
        tasks.spawn_infallible("waits for shutdown", async move { s.wait().await });
        tasks.spawn("relay", async { Err::<(), _>("the store is gone") });
        let failed = tasks.run().await.unwrap_err();
        assert_eq!(failed.task, "relay");
        assert_eq!(failed.to_string(), "relay stopped: the store is gone");
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn a_panic_is_reported_by_the_task_name() {
        let (trigger, shutdown) = crate::shutdown::channel();
        let mut tasks = Tasks::new(trigger, shutdown.clone());
        tasks.spawn_infallible("inbox", async { panic!("boom") });
        let failed = tasks.run().await.unwrap_err();
        assert_eq!((failed.task, failed.reason.as_str()), ("inbox", "panicked"));
    }

    #[tokio::test]
    async fn tasks_that_stop_on_shutdown_are_a_clean_stop() {
        let (trigger, shutdown) = crate::shutdown::channel();
        let mut tasks = Tasks::new(trigger.clone(), shutdown.clone());
        for name in ["a", "b"] {
            let s = shutdown.clone();
            tasks.spawn_infallible(name, async move { s.wait().await });
        }
        trigger.trigger();
        tasks.run().await.unwrap();
    }
}
