//! The shell's side of the panel: how the API reaches the core loop, and where the core's
//! agent snapshots wait for the WebSocket.
//!
//! [`CoreHandle`] is cheap to clone and is all the API holds. Commands go into the core loop
//! over its input channel with a one-shot reply; the core publishes each changed agent's
//! snapshot to the [`Board`], which keeps the latest per agent (a page that connects, or
//! falls behind, reads it) and notifies subscribers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::sip::CoreInput;
use crate::config::Config;
use crate::control::{AgentSnapshot, Command, CommandError, FloorSnapshot};

/// How many snapshot notifications a slow WebSocket may fall behind before it resyncs.
const NOTIFY_CAPACITY: usize = 1024;

/// Latest snapshot of every agent, and a notification per change.
#[derive(Debug)]
pub struct Board {
    latest: RwLock<HashMap<String, Arc<AgentSnapshot>>>,
    changed: broadcast::Sender<Arc<AgentSnapshot>>,
    config: RwLock<Arc<Config>>,
    floor: RwLock<Option<Arc<FloorSnapshot>>>,
    floor_changed: broadcast::Sender<Arc<FloorSnapshot>>,
}

impl Board {
    pub fn new(config: Arc<Config>) -> Arc<Board> {
        Arc::new(Board {
            latest: RwLock::new(HashMap::new()),
            changed: broadcast::channel(NOTIFY_CAPACITY).0,
            config: RwLock::new(config),
            floor: RwLock::new(None),
            floor_changed: broadcast::channel(64).0,
        })
    }

    /// The core loop publishes what changed.
    pub fn publish(&self, snapshots: Vec<AgentSnapshot>) {
        if snapshots.is_empty() {
            return;
        }
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        for s in snapshots {
            let s = Arc::new(s);
            latest.insert(s.username.clone(), s.clone());
            // No subscribers is fine: nobody has the panel open.
            let _ = self.changed.send(s);
        }
    }

    /// The core publishes the floor; subscribers hear of it only when something but the
    /// timestamp changed.
    pub fn publish_floor(&self, floor: FloorSnapshot) {
        let mut current = self.floor.write().unwrap_or_else(|e| e.into_inner());
        let same = current.as_ref().is_some_and(|c| {
            c.queues == floor.queues
                && c.agents == floor.agents
                && c.monitoring_sessions == floor.monitoring_sessions
        });
        if same {
            return;
        }
        let floor = Arc::new(floor);
        *current = Some(floor.clone());
        let _ = self.floor_changed.send(floor);
    }

    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }
}

/// What the API holds: commands into the core, snapshots and config out.
#[derive(Debug, Clone)]
pub struct CoreHandle {
    core: mpsc::Sender<CoreInput>,
    board: Arc<Board>,
}

impl CoreHandle {
    pub fn new(core: mpsc::Sender<CoreInput>, board: Arc<Board>) -> CoreHandle {
        CoreHandle { core, board }
    }

    /// Applies `command` as `user`; on success, the user's snapshot after it.
    pub async fn command(
        &self,
        user: &str,
        command: Command,
    ) -> Result<AgentSnapshot, CommandError> {
        let (reply, answer) = oneshot::channel();
        let input = CoreInput::Command {
            user: user.to_string(),
            command,
            reply,
        };
        let stopped = || CommandError::Unavailable("the server is shutting down".into());
        self.core.send(input).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The latest published snapshot of `user`, if the core has published one.
    pub fn snapshot(&self, user: &str) -> Option<Arc<AgentSnapshot>> {
        self.board
            .latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .cloned()
    }

    /// Every snapshot the core publishes from now on (filter by `username`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AgentSnapshot>> {
        self.board.changed.subscribe()
    }

    /// The floor as last published (None before the core's first tick).
    pub fn floor(&self) -> Option<Arc<FloorSnapshot>> {
        self.board
            .floor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every floor the core publishes from now on.
    pub fn subscribe_floor(&self) -> broadcast::Receiver<Arc<FloorSnapshot>> {
        self.board.floor_changed.subscribe()
    }

    /// The config that is live now (users, permissions, quick connects, countries).
    pub fn config(&self) -> Arc<Config> {
        self.board
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
