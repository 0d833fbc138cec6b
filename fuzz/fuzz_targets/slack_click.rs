//! A Slack interactivity body on arbitrary bytes: the click reader of `/slack/interactivity` (form field
//! `payload`, JSON, the user and first action). Refused with a path, or a click on a known button.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match bellwether_server::routes::parse_click(data) {
        Ok(c) => assert!(
            bellwether_server::routes::ACTIONS.contains(&c.action.as_str()),
            "{c:?}"
        ),
        Err(e) => assert!(e.path.is_some(), "a refused click names where: {e:?}"),
    }
});
