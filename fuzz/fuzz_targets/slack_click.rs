//! A Slack interactivity body on arbitrary bytes: the click reader of `/slack/interactivity` (form field
//! `payload`, JSON, the user and first action). Refused with a path, or a click on a known button.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match bellwether_server::routes::parse_click(data) {
        Ok(c) => assert_eq!(
            bellwether_server::routes::Button::parse(c.action.action_id()),
            Some(c.action),
            "{c:?}"
        ),
        Err(e) => assert!(e.path.is_some(), "a refused click names where: {e:?}"),
    }
});
