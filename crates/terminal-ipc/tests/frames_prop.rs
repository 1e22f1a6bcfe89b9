//! Property tests of framing and message decoding: nothing from the socket can panic the decoder, and what
//! one side encodes the other decodes unchanged.

use proptest::prelude::*;
use terminal_ipc::frame::{decode, encode, read_frame_bytes};
use terminal_ipc::*;

fn topic() -> impl Strategy<Value = Topic> {
    prop::sample::select(Topic::ALL.to_vec())
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Status),
        prop::collection::vec(topic(), 0..5).prop_map(|topics| Request::Subscribe { topics }),
        "[0-9]{4}".prop_map(|d| Request::Kiosk {
            reader: None,
            action: KioskAction::EnterPin {
                pin: Pin::new(d).unwrap()
            }
        }),
        (any::<Option<String>>(), any::<bool>()).prop_map(|(reader, agreed)| Request::Kiosk {
            reader,
            action: KioskAction::AnswerConsent {
                item: ConsentItem::Surgery,
                agreed
            }
        }),
        any::<String>().prop_map(|check_in_id| Request::CheckInDetail { check_in_id }),
        (any::<String>(), any::<String>()).prop_map(|(account, pw)| Request::Login {
            account,
            password: Secret::new(pw),
            totp: None
        }),
    ]
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<ClientFrame>(&bytes);
        let _ = decode::<ServerFrame>(&bytes);
        let _ = decode::<Hello>(&bytes);
        let _ = decode::<HandshakeReply>(&bytes);
    }

    #[test]
    fn reading_arbitrary_streams_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), max in 0usize..32) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let result = rt.block_on(async { read_frame_bytes(&mut bytes.as_slice(), max).await });
        if bytes.len() >= 4 {
            let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            match result {
                Ok(body) => prop_assert!(body.len() == len && len <= max && bytes.len() >= 4 + len),
                Err(FrameError::TooLarge { .. }) => prop_assert!(len > max),
                Err(_) => prop_assert!(len > max || bytes.len() < 4 + len),
            }
        } else {
            prop_assert!(matches!(result, Err(FrameError::Closed)));
        }
    }

    #[test]
    fn client_frames_round_trip(id in any::<u64>(), request in request()) {
        let frame = ClientFrame::Request { id, request };
        let bytes = encode(&frame, MAX_FRAME_LEN).unwrap();
        prop_assert_eq!(u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len() - 4);
        prop_assert_eq!(decode::<ClientFrame>(&bytes[4..]).unwrap(), frame);
    }

    #[test]
    fn error_responses_round_trip(id in any::<u64>(), message in any::<String>()) {
        let frame = ServerFrame::Response { id, outcome: Outcome::Err { error: ErrorBody::new(ErrorCode::CentralUnavailable, message) } };
        let bytes = encode(&frame, MAX_FRAME_LEN).unwrap();
        prop_assert_eq!(decode::<ServerFrame>(&bytes[4..]).unwrap(), frame);
    }
}

#[test]
fn unknown_codes_from_a_newer_peer_read_as_other() {
    let reply: HandshakeReply = decode(
        br#"{"type":"refused","reason":"quantum_flux","message":"m","server_protocol_min":1,"server_protocol_max":9}"#,
    )
    .unwrap();
    assert!(matches!(
        reply,
        HandshakeReply::Refused(Refusal {
            reason: RefusalReason::Other,
            ..
        })
    ));
    let body: ErrorBody = decode(br#"{"code":"brand_new","message":"m"}"#).unwrap();
    assert_eq!(body.code, ErrorCode::Other);
}

#[test]
fn oversize_messages_are_not_encoded() {
    let frame = ClientFrame::Request {
        id: 1,
        request: Request::CheckInDetail {
            check_in_id: "x".repeat(100),
        },
    };
    assert!(matches!(
        encode(&frame, 50),
        Err(FrameError::TooLarge { .. })
    ));
}
