//! The submission states: their stored text forms and what each allows.

use portal_domain::submission::SubmissionState;

#[test]
fn submission_states_round_trip_through_their_stored_text() {
    let texts: Vec<&str> = SubmissionState::ALL
        .iter()
        .map(|state| state.as_str())
        .collect();
    assert_eq!(texts, ["draft", "queued", "sending", "sent", "failed"]);
    for state in SubmissionState::ALL {
        assert_eq!(SubmissionState::parse(state.as_str()), Some(state));
        assert_eq!(state.to_string(), state.as_str());
        // The serde form is the stored form too (persistence used `rename_all = "lowercase"`).
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(state.as_str())
        );
    }
}

#[test]
fn unknown_submission_texts_are_not_guessed() {
    for text in [
        "",
        "Sent",
        " sent",
        "sent ",
        "SENT",
        "deleted",
        "in_progress",
    ] {
        assert_eq!(SubmissionState::parse(text), None, "{text:?}");
    }
}

#[test]
fn only_drafts_and_failed_submissions_are_editable() {
    use SubmissionState::*;
    for (state, editable) in [
        (Draft, true),
        (Queued, false),
        (Sending, false),
        (Sent, false),
        (Failed, true),
    ] {
        assert_eq!(state.is_editable(), editable, "{state}");
    }
}

#[test]
fn queued_sending_and_sent_count_as_issued() {
    use SubmissionState::*;
    for (state, issued) in [
        (Draft, false),
        (Queued, true),
        (Sending, true),
        (Sent, true),
        (Failed, false),
    ] {
        assert_eq!(state.is_issued(), issued, "{state}");
        assert_eq!(state.is_sent(), state == Sent, "{state}");
    }
}
