//! Micro-benchmarks of the WebSocket codec: the work done per frame on the
//! hot path of a chat message.
//!
//! - `decode/create_message`: a client's `create_message` JSON text frame,
//!   as the reader of every connection decodes it (`protocol::decode`).
//! - `decode/create_message_bincode`: the same frame as a binary frame
//!   (`protocol::binary::decode`, subprotocol `palaver.v1.bincode`).
//! - `encode/message_created`: the `message_created` frame a room encodes
//!   once per message (`ServerFrame::encode`, JSON and bincode) before it
//!   fans the same bytes out to every member.
//! - `encode/message_created_json`: the JSON encoding alone.
//!
//! Throughput is in bytes of the frame (both encodings for `encode`).
//!
//! Run with `cargo bench --bench frames`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palaver::model::{Message, MessageKind, MessageStatus, Timestamp};
use palaver::protocol::binary::{self, ActionBin, ClientFrameBin};
use palaver::protocol::{self, Action, ServerFrame};
use std::hint::black_box;

const CONTENT: &str = "How are you? Are we still on for lunch tomorrow at noon, the usual place?";
const MESSAGE_ID: &str = "0190a1b2-0000-7000-8000-000000000003";

/// A create_message frame as a web client sends it: a client-generated
/// messageId, a sentence of text, and the `senderId`/`createdAt` the server
/// ignores but must still parse past.
const CREATE_MESSAGE: &[u8] = br#"{"action":"create_message","requestId":"r-000042","roomId":"456","messageId":"0190a1b2-0000-7000-8000-000000000003","content":"How are you? Are we still on for lunch tomorrow at noon, the usual place?","type":"text","senderId":"user_123","createdAt":"2024-06-16T12:36:10.000Z"}"#;

/// The same action as a bincode binary frame.
fn create_message_bincode() -> Vec<u8> {
    binary::encode_client(&ClientFrameBin {
        request_id: Some("r-000042".to_owned()),
        action: ActionBin::CreateMessage {
            room_id: 456,
            message_id: Some(MESSAGE_ID.to_owned()),
            content: Some(CONTENT.to_owned()),
            kind: Some("text".to_owned()),
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
        },
    })
}

/// A committed message like the ones a room fans out.
fn message() -> Message {
    Message {
        room_id: 456,
        seq: 123_456,
        message_id: MESSAGE_ID.to_owned(),
        sender_id: Some(42),
        kind: MessageKind::Text,
        content: CONTENT.to_owned(),
        reply_id: Some("0190a1b1-ffff-7000-8000-000000000001".to_owned()),
        forward_of: None,
        file_id: None,
        preview: None,
        created_at: Timestamp(1_718_541_370_123),
        edited_at: None,
        deleted: false,
        deleted_at: None,
        rev: 0,
        reactions: Vec::new(),
        status: MessageStatus::Success,
        auto_reply: false,
    }
}

/// Fails loudly if a sample frame stops decoding: benchmarking the error
/// path by accident would report meaningless numbers.
fn assert_create_message(decoded: Result<protocol::ClientFrame, protocol::DecodeError>) {
    match decoded {
        Ok(frame) => assert!(
            matches!(frame.action, Action::CreateMessage { room_id: 456, .. }),
            "the benchmark frame decodes as {:?}",
            frame.action
        ),
        Err(e) => panic!("the benchmark frame does not decode: {e}"),
    }
}

fn decode(c: &mut Criterion) {
    let bincode_frame = create_message_bincode();
    assert_create_message(protocol::decode(CREATE_MESSAGE));
    assert_create_message(binary::decode(&bincode_frame));

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(CREATE_MESSAGE.len() as u64));
    group.bench_function("create_message", |b| {
        b.iter(|| protocol::decode(black_box(CREATE_MESSAGE)))
    });
    group.throughput(Throughput::Bytes(bincode_frame.len() as u64));
    group.bench_function("create_message_bincode", |b| {
        b.iter(|| binary::decode(black_box(&bincode_frame)))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let message = message();
    let frame = ServerFrame::MessageCreated { message: &message };
    let encoded = frame.encode();
    assert!(
        !encoded.json.is_empty() && !encoded.bincode.is_empty(),
        "the benchmark frame does not encode"
    );

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(
        (encoded.json.len() + encoded.bincode.len()) as u64,
    ));
    group.bench_function("message_created", |b| b.iter(|| black_box(&frame).encode()));
    group.throughput(Throughput::Bytes(encoded.json.len() as u64));
    group.bench_function("message_created_json", |b| {
        b.iter(|| black_box(&frame).to_json())
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
