//! Slack interactivity (`POST /slack/interactivity`, the Slack app's Request URL): the buttons of an alert
//! message act on its signal. Each request is verified as Slack signs it (`X-Slack-Signature`: `v0=` and the
//! hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}` under the app's signing secret, the timestamp
//! within five minutes, compared in constant time), and the clicking Slack user must be a person of
//! `[[people]]` allowed to act on the account: its owner, or the owner's leader. The answer (an ephemeral
//! message saying what changed) goes back at once, well within Slack's three seconds.
//!
//! Controls ([`Button`], which the alert's message is built with): acknowledge, snooze (for [`SNOOZE_DAYS`]),
//! mark contacted (a call is recorded as an interaction for the day, which the next assessment's
//! days-since-contact reads, and the signal is acknowledged), each with the signal's id as its value; and a
//! date picker that snoozes until the day picked, the signal's id in its block's id. A snooze from Slack
//! says who set it, as its reason.
//! The people directory is the configured one over the store's imported people, read at each click.

use crate::error::{ApiError, ApiResult};
use crate::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bellwether_core::model::{Interaction, InteractionKind};
use bellwether_core::{Code, Day, Timestamp};
use bellwether_engine::signals::{act, SignalAct};
use bellwether_store::{LiveBatch, LiveStore, WriteBatch};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// How old a signed request may be.
const MAX_AGE_SECONDS: i64 = 300;
pub use bellwether_deliver::channels::slack::{Button, BLOCK_PREFIX, SNOOZE_DAYS};
pub use bellwether_deliver::people::{People, Person};

/// The Slack app's settings (`[slack]`) and the people it acts for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SlackApp {
    /// The app's signing secret.
    pub signing_secret: String,
    /// The configured people (`[[people]]`), over the store's.
    pub people: People,
}

impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApp")
            .field("signing_secret", &"********")
            .field("people", &self.people.0.len())
            .finish()
    }
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`: the signature Slack sends.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", crate::auth::hex(&mac.finalize().into_bytes()))
}

pub(super) fn routes<S: LiveStore>() -> Router<Shared<S>> {
    Router::new().route("/slack/interactivity", post(interactivity::<S>))
}

/// A button click, as Slack's interactivity payload carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    /// The clicking Slack user's id.
    pub user: String,
    /// The button clicked.
    pub action: Button,
    /// The signal's id: the button's value, or the id of the date picker's block.
    pub signal: String,
    /// The day picked, for the date picker.
    pub until: Option<Day>,
}

/// Reads a (verified) interactivity body: the form field `payload`, JSON, with the user and the first action;
/// the error names the part at fault.
pub fn parse_click(body: &[u8]) -> Result<Click, ApiError> {
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            ApiError::new(Code::InvalidJson, "the body has no payload field").at("payload")
        })?;
    let payload: Value = serde_json::from_str(&payload).map_err(|e| {
        ApiError::new(Code::InvalidJson, format!("payload is not JSON: {e}")).at("payload")
    })?;
    let action = &payload["actions"][0];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let id = text(&action["action_id"]);
    let Some(button) = Button::parse(&id) else {
        return Err(ApiError::new(
            Code::InvalidField,
            format!(
                "action {id:?} is not one of {}",
                Button::ALL.map(Button::action_id).join(", ")
            ),
        )
        .at("payload.actions[0].action_id"));
    };
    if button != Button::SnoozeUntil {
        return Ok(Click {
            user: text(&payload["user"]["id"]),
            action: button,
            signal: text(&action["value"]),
            until: None,
        });
    }
    let block = text(&action["block_id"]);
    let Some(signal) = block.strip_prefix(BLOCK_PREFIX) else {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("block {block:?} is not an alert's actions ({BLOCK_PREFIX} and a signal id)"),
        )
        .at("payload.actions[0].block_id"));
    };
    let picked = text(&action["selected_date"]);
    let until = Day::parse(&picked).map_err(|e| {
        ApiError::new(
            Code::InvalidField,
            format!("selected_date {picked:?} is not a day (YYYY-MM-DD): {e}"),
        )
        .at("payload.actions[0].selected_date")
    })?;
    Ok(Click {
        user: text(&payload["user"]["id"]),
        action: button,
        signal: signal.to_string(),
        until: Some(until),
    })
}

fn refused(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidSignature, msg)
}

async fn interactivity<S: LiveStore>(
    State(st): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let Some(app) = st.config.slack.clone() else {
        return Err(refused(
            "Slack interactivity is not set up: put the app's signing secret in `[slack] signing_secret`",
        ));
    };
    let bytes = super::read_body(body, 256 * 1024).await?;
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let ts: i64 = get("x-slack-request-timestamp")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| refused("X-Slack-Request-Timestamp is missing or not a number"))?;
    if (Timestamp::now().0 / 1000 - ts).abs() > MAX_AGE_SECONDS {
        return Err(refused(format!(
            "the request was signed at {ts}, more than {MAX_AGE_SECONDS} s from now: a replay, or a clock off"
        )));
    }
    let sent = get("x-slack-signature").ok_or_else(|| refused("X-Slack-Signature is missing"))?;
    let want = slack_signature(&app.signing_secret, ts, &bytes);
    if !bool::from(sent.as_bytes().ct_eq(want.as_bytes())) {
        return Err(refused(
            "X-Slack-Signature does not match the body under the app's signing secret",
        ));
    }
    let Click {
        user,
        action: kind,
        signal: signal_id,
        until,
    } = parse_click(&bytes)?;
    let (user, signal_id) = (user.as_str(), signal_id.as_str());
    let mut signal = st.store.signal(signal_id).await?.ok_or_else(|| {
        ApiError::new(Code::SignalNotFound, format!("no signal {signal_id:?}"))
            .at("payload.actions[0].value")
    })?;
    // Allowed: the signal's owner, or the owner's leader.
    let people = People::read(&*st.store, &app.people).await?;
    let person = people.by_slack_user(user);
    let owner = signal.owner.clone().unwrap_or_default();
    let allowed = person.is_some_and(|p| !owner.is_empty() && people.may_act(p, &owner));
    if !allowed {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "Slack user {user} may not act on {}: only its owner ({}) or the owner's leader may, as [[people]] names them",
                signal.account_id.as_str(),
                if owner.is_empty() { "none" } else { owner.as_str() }
            ),
        ));
    }
    let who = person.map(|p| p.email.as_str()).unwrap_or(user);
    let today = Day::today();
    let what = match (kind, until) {
        (Button::Acknowledge | Button::Contacted, _) => Ok(SignalAct::Acknowledge),
        (Button::SnoozeUntil, Some(day)) => SignalAct::snooze(
            day,
            &format!("snoozed until {day} from Slack by {who}"),
            today,
        ),
        (Button::Snooze | Button::SnoozeUntil, _) => SignalAct::snooze(
            today.plus(SNOOZE_DAYS),
            &format!("snoozed {SNOOZE_DAYS} days from Slack by {who}"),
            today,
        ),
    };
    // A day picked that is not after today changes nothing; the clicker is told why.
    let what = match what {
        Ok(what) => what,
        Err(refused) => return Ok(ephemeral(refused.message())),
    };
    if kind == Button::Contacted {
        let now = Timestamp::now();
        let call = Interaction {
            // One contact a day per signal, however often the button is clicked.
            id: format!("slack-contacted:{}:{}", signal.id, now.day()),
            account_id: signal.account_id.clone(),
            contact_id: None,
            at: now,
            kind: InteractionKind::Meeting,
            response: None,
            score: None,
            note: format!("Marked contacted in Slack by {who}, on {}", signal.kind),
            received_at: now,
        };
        // Written as live records are, and the account re-assessed with it (days since contact).
        let live = LiveBatch {
            batch: WriteBatch {
                source: "slack:interactivity".into(),
                kind: "interactions".into(),
                received_at: Some(now),
                records: 1,
                interactions: vec![call],
                ..Default::default()
            },
            ..Default::default()
        };
        let touched = live.touched();
        st.store.write_live(live).await?;
        st.queue.push(touched, std::time::Instant::now());
    }
    // A click on the message of a signal that is over changes nothing; the clicker is told why.
    if let Err(why) = act(&mut signal, what) {
        return Ok(ephemeral(&why));
    }
    st.store
        .save_signals(std::slice::from_ref(&signal), &[])
        .await?;
    Ok(ephemeral(&format!(
        "{} on {} is now {}{} (by {who})",
        signal.kind,
        signal.account_id.as_str(),
        signal.status,
        match (kind, signal.snoozed_until) {
            (Button::Contacted, _) => ", and the account marked contacted today".to_string(),
            (Button::Snooze | Button::SnoozeUntil, Some(day)) => format!(" until {day}"),
            _ => String::new(),
        }
    )))
}

/// An answer only the clicker sees, leaving the alert's message as it is.
fn ephemeral(text: &str) -> Json<Value> {
    Json(json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": text,
    }))
}
