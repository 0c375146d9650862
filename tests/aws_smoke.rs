//! The whole path on real AWS SDK clients against moto_server: API Gateway v2 event →
//! ingest → S3 archive + SQS → processor → DynamoDB and S3 records.

mod common;

use common::*;
use scribehook::Provider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bota_delivery_lands_in_dynamodb_and_s3() {
    let stack = Stack::new(vec![]).await;
    let body = payload(Provider::Bota, "transcription.completed");
    let headers = signed_headers(Provider::Bota, &body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        serde_json::json!({"status": "accepted", "event_id": "evt_ghi789"})
    );

    let messages = stack.receive().await;
    assert_eq!(messages.len(), 1);
    let response =
        scribehook::entrypoints::lambda::processor_handler(&stack.processor, sqs_event(&messages))
            .await
            .unwrap();
    assert!(response.batch_item_failures.is_empty());

    use scribehook::storage::records::RecordStore;
    let record = stack
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .expect("a record");
    let transcript = record.components.transcript.as_ref().unwrap();
    assert_eq!(transcript.event_id, "evt_ghi789");
    assert_eq!(
        transcript
            .content
            .transcript
            .as_ref()
            .unwrap()
            .segments
            .len(),
        2
    );
    let from_s3 = stack
        .s3_records
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .expect("an S3 record");
    assert_eq!(from_s3, record);
}
