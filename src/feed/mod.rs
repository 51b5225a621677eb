//! The market-data feed actor: the one end of the pipeline where bars come from.
//!
//! A [`MarketSource`] chooses where: [`MarketSource::Replay`] replays a loaded market through a
//! [`ReplayCursor`] (a synchronous core that turns the column store into one [`MarketEvent`] per
//! timestamp and owns the only handle that advances the [`SimulatedClock`]);
//! [`MarketSource::Pushed`] takes timestamps pushed from outside (a live feed, or a test) through
//! a channel. Everything downstream is the same code in both cases.
//!
//! Flow control: at most `window` timestamps are in flight; the portfolio returns a credit for
//! each settled one, so memory stays bounded whatever the length of the history. A pushed source
//! is held to the same bound: the channel is read only while fewer than `window` pushed
//! timestamps are unsettled, so a pusher faster than the pipeline waits at its `send` (a live
//! feed then stops reading its socket, and the venue's TCP window fills) instead of queueing
//! timestamps here without limit.

use crate::clock::SimulatedClock;
use crate::data::{MarketData, ReplayCursor};
use crate::events::MarketEvent;
use crate::messages::{BrokerMsg, FeedMsg, MarketRoute, PushedBars};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;

/// Where bars come from: the one choice at this end of the pipeline.
pub enum MarketSource {
    /// Replay of a loaded market (the feed owns the simulated clock).
    Replay(Arc<MarketData>),
    /// Timestamps pushed from outside, in time order; the channel's end ends the market.
    Pushed(tokio::sync::mpsc::Receiver<PushedBars>),
}

/// The feed's downstream: the two actors every market event goes to.
pub struct FeedArgs {
    pub source: MarketSource,
    pub window: usize,
    /// The feature stage (or the next stage when the run computes no features).
    pub next: MarketRoute,
    pub broker: ActorRef<BrokerMsg>,
    pub progress: Option<indicatif::ProgressBar>,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

enum Source {
    Replay(ReplayCursor),
    /// Pushed timestamps not yet emitted, and whether the push side has ended.
    Pushed {
        queue: VecDeque<PushedBars>,
        ended: bool,
        /// One permit per timestamp the channel may still be read for; a credit returns one.
        room: Arc<tokio::sync::Semaphore>,
    },
}

pub struct FeedState {
    source: Source,
    next: MarketRoute,
    broker: ActorRef<BrokerMsg>,
    window: usize,
    in_flight: usize,
    started: bool,
    /// Steps emitted so far.
    emitted: u64,
    /// The last event has been emitted (or the end announced).
    done: bool,
    progress: Option<indicatif::ProgressBar>,
    span: tracing::Span,
}

impl FeedState {
    fn emit(&mut self, mut ev: MarketEvent) -> Result<(), ActorProcessingErr> {
        ev.step = self.emitted;
        ev.in_flight = self.in_flight + 1;
        self.done |= ev.last;
        tracing::trace!(
            step = ev.step,
            bars = ev.bars.len(),
            in_flight = ev.in_flight,
            "market event"
        );
        let ev = Arc::new(ev);
        self.broker.send_message(BrokerMsg::Market(ev.clone()))?;
        self.next.send(ev)?;
        self.in_flight += 1;
        self.emitted += 1;
        Ok(())
    }

    fn pump(&mut self) -> Result<(), ActorProcessingErr> {
        if !self.started {
            return Ok(());
        }
        while self.in_flight < self.window && !self.done {
            let ev = match &mut self.source {
                Source::Replay(cursor) => match cursor.next_event() {
                    Some(ev) => ev,
                    None => break,
                },
                Source::Pushed { queue, ended, .. } => {
                    let Some(p) = queue.pop_front() else {
                        if *ended {
                            // The push side ended after everything was emitted: tell the broker
                            // where the market stopped.
                            self.done = true;
                            let last_step = self.emitted.checked_sub(1);
                            tracing::debug!(?last_step, "the pushed market ended");
                            self.broker.send_message(BrokerMsg::End { last_step })?;
                        }
                        break;
                    };
                    // The last queued timestamp of an ended source is the last one.
                    let last = p.last || (*ended && queue.is_empty());
                    MarketEvent {
                        step: 0,
                        ts_event: p.ts_event,
                        ts_init: p.ts_init,
                        last,
                        in_flight: 0,
                        bars: p.bars,
                    }
                }
            };
            self.emit(ev)?;
        }
        Ok(())
    }
}

pub struct FeedActor;

impl Actor for FeedActor {
    type Msg = FeedMsg;
    type State = FeedState;
    type Arguments = FeedArgs;

    async fn pre_start(&self, myself: ActorRef<FeedMsg>, args: FeedArgs) -> Result<FeedState, ActorProcessingErr> {
        let source = match args.source {
            MarketSource::Replay(data) => {
                let first = data.timestamps.first().copied().unwrap_or_default();
                Source::Replay(ReplayCursor::new(data, SimulatedClock::new(first)))
            }
            MarketSource::Pushed(mut rx) => {
                // Forward the channel into this actor's mailbox, so credits and pushed bars are
                // handled in one order; a timestamp is taken from the channel only with room.
                let room = Arc::new(tokio::sync::Semaphore::new(args.window.max(1)));
                let permits = room.clone();
                tokio::spawn(async move {
                    loop {
                        match permits.acquire().await {
                            Ok(p) => p.forget(),
                            Err(_) => return,
                        }
                        let Some(p) = rx.recv().await else { break };
                        if myself.send_message(FeedMsg::Bars(p)).is_err() {
                            return;
                        }
                    }
                    let _ = myself.send_message(FeedMsg::End);
                });
                Source::Pushed {
                    queue: VecDeque::new(),
                    ended: false,
                    room,
                }
            }
        };
        Ok(FeedState {
            source,
            next: args.next,
            broker: args.broker,
            window: args.window.max(1),
            in_flight: 0,
            started: false,
            emitted: 0,
            done: false,
            progress: args.progress,
            span: args.span,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<FeedMsg>,
        msg: FeedMsg,
        state: &mut FeedState,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        let _entered = span.enter();
        match msg {
            FeedMsg::Start => state.started = true,
            FeedMsg::Credit => {
                state.in_flight = state.in_flight.saturating_sub(1);
                if let Source::Pushed { room, .. } = &state.source {
                    room.add_permits(1);
                }
                if let Some(pb) = &state.progress {
                    pb.inc(1);
                }
            }
            FeedMsg::Bars(p) => match &mut state.source {
                Source::Pushed {
                    queue, ended: false, ..
                } => {
                    let last = p.last;
                    queue.push_back(p);
                    if last {
                        if let Source::Pushed { ended, .. } = &mut state.source {
                            *ended = true;
                        }
                    }
                }
                _ => return Err("bars pushed into a feed that does not take them".into()),
            },
            FeedMsg::End => {
                if let Source::Pushed { ended, .. } = &mut state.source {
                    *ended = true;
                }
            }
        }
        state.pump()
    }
}
