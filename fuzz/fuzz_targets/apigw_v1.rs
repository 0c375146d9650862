//! API Gateway REST API (payload v1) events: JSON → `LambdaRequest` → the real ingest handler
//! on a local file store (see `scribehook_fuzz::fuzz_gateway` for the properties).
#![no_main]
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_http::request::LambdaRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<ApiGatewayProxyRequest>(data) {
        scribehook_fuzz::fuzz_gateway(LambdaRequest::ApiGatewayV1(request));
    }
});
