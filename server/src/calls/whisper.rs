//! The agent whisper: the flow set_whisper_flow chose (type agent_whisper) plays to the agent
//! once their phone answers, before the legs are bridged; the customer hears music on hold
//! meanwhile (their queue flow has stopped). When the whisper flow ends, fails, or runs past
//! [`WHISPER_LIMIT`], the legs are bridged as without a whisper.
//!
//! Meanwhile the agent is Busy but not yet connected (`OnContact::connected` is false); the
//! contact's record has the agent, and its agent-connected time is the bridge's. Either side
//! hanging up during the whisper ends the contact as usual.

use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Calls;
use crate::endpoint::Now;
use crate::flow::{FlowAction, FlowInput, FlowRun};

/// The longest a whisper may hold the customer back from the agent (a looping flow).
pub(super) const WHISPER_LIMIT: Duration = Duration::from_secs(30);

/// A whisper flow playing to the agent.
#[derive(Debug)]
pub(super) struct Whisper {
    run: FlowRun,
    /// The bridge happens by then whatever the flow does.
    until: Instant,
}

impl Whisper {
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(
            self.run
                .poll_timeout()
                .map_or(self.until, |t| t.min(self.until)),
        )
    }
}

impl Calls {
    /// Plays the contact's whisper flow to its agent, who just answered; false when there is
    /// none (the caller bridges at once).
    pub(super) fn start_whisper(&mut self, now: Now, id: Uuid, queue: Option<String>) -> bool {
        let Some(c) = self.contacts.get_mut(&id) else {
            return false;
        };
        let Some(name) = c.whisper_flow.clone() else {
            return false;
        };
        let Some(flow) = self.config.flows.get(&name).cloned() else {
            tracing::warn!(contact = %id, flow = %name, "the whisper flow is not loaded; connecting without it");
            return false;
        };
        let Some(agent) = c.agent.as_mut() else {
            return false;
        };
        let mut run = FlowRun::new(flow, c.record.attributes.clone());
        if let Some(q) = queue {
            run = run.with_working_queue(q);
        }
        let mut env = flow_env!(self, now, id);
        run.start(now.mono, &mut env);
        tracing::info!(contact = %id, agent = %agent.username, flow = %name, "agent whisper");
        agent.whisper = Some(Whisper {
            run,
            until: now.mono + WHISPER_LIMIT,
        });
        // The customer keeps waiting with music until the bridge.
        if let Some(moh) = &self.config.media.music_on_hold {
            match self.media.play(c.leg, moh, true, false) {
                Ok(()) => c.playing = true,
                Err(e) => tracing::warn!(contact = %id, error = %e, "no music during the whisper"),
            }
        }
        self.run_whisper(now, id);
        true
    }

    /// Carries out what the whisper flow asked for; bridges once it is finished.
    fn run_whisper(&mut self, now: Now, id: Uuid) {
        loop {
            let Some(c) = self.contacts.get_mut(&id) else {
                return;
            };
            let Some(agent) = c.agent.as_mut() else {
                return;
            };
            let leg = agent.leg;
            let Some(w) = agent.whisper.as_mut() else {
                return;
            };
            let Some(action) = w.run.poll_action() else {
                if w.run.is_finished() {
                    self.connect_agent(now, id);
                }
                return;
            };
            match action {
                FlowAction::Play { prompt, .. } => {
                    if let Err(e) = self.media.play(leg, &prompt.path, false, false) {
                        tracing::warn!(contact = %id, prompt = %prompt.name, error = %e, "whisper prompt failed");
                        self.feed_whisper(now, id, FlowInput::PromptFailed);
                    }
                }
                FlowAction::StopPlayback => {
                    let _ = self.media.stop_play(leg);
                }
                FlowAction::SetRecording(r) => {
                    c.record_call = matches!(r, crate::flow::Recording::Both);
                    c.recorded = r;
                }
                // Nothing else is allowed in an agent_whisper flow (validation); EndFlow
                // leaves the run finished, which the next pass sees.
                _ => {}
            }
        }
    }

    fn feed_whisper(&mut self, now: Now, id: Uuid, input: FlowInput) {
        let Some(w) = self
            .contacts
            .get_mut(&id)
            .and_then(|c| c.agent.as_mut())
            .and_then(|a| a.whisper.as_mut())
        else {
            return;
        };
        let mut env = flow_env!(self, now, id);
        w.run.handle(now.mono, input, &mut env);
    }

    /// A prompt to the agent's leg ended: the whisper goes on. Inputs for an agent leg with
    /// no whisper are dropped (they are not the customer's flow's).
    pub(super) fn on_agent_leg_input(&mut self, now: Now, id: Uuid, input: FlowInput) {
        if !matches!(input, FlowInput::PromptFinished) {
            return;
        }
        let whispering = self
            .contacts
            .get(&id)
            .and_then(|c| c.agent.as_ref())
            .is_some_and(|a| a.whisper.is_some());
        if whispering {
            self.feed_whisper(now, id, input);
            self.run_whisper(now, id);
        }
    }

    /// Whispers whose flow timer is due, or which ran past [`WHISPER_LIMIT`].
    pub(super) fn handle_whisper_timeouts(&mut self, now: Now) {
        let due: Vec<(Uuid, bool)> = self
            .contacts
            .iter()
            .filter_map(|(id, c)| {
                let w = c.agent.as_ref()?.whisper.as_ref()?;
                w.poll_timeout()
                    .is_some_and(|t| t <= now.mono)
                    .then_some((*id, w.until <= now.mono))
            })
            .collect();
        for (id, over) in due {
            if over {
                tracing::warn!(contact = %id, "the whisper ran too long; connecting");
                self.connect_agent(now, id);
                continue;
            }
            if let Some(w) = self
                .contacts
                .get_mut(&id)
                .and_then(|c| c.agent.as_mut())
                .and_then(|a| a.whisper.as_mut())
            {
                let mut env = flow_env!(self, now, id);
                w.run.handle_timeout(now.mono, &mut env);
            }
            self.run_whisper(now, id);
        }
    }
}
