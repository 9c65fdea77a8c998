// The daemon's HTTP server over real loopback connections: routing, keep-alive, limits,
// malformed input, concurrency and a graceful stop.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_server.h"
#include "http_client.h"

using drift::daemon::HttpRequest;
using drift::daemon::HttpResponse;
using drift::daemon::HttpServer;
using drift::test::HttpClient;

namespace {

HttpServer::Options options(int threads = 2, std::uint64_t max_body = 16u << 20) {
  HttpServer::Options o;
  o.listen = "127.0.0.1:0";
  o.threads = threads;
  o.max_body_bytes = max_body;
  return o;
}

/// Answers with the handler's name, the path and the query.
drift::daemon::HttpHandler echo(std::string name) {
  return [name](const HttpRequest& request) {
    return HttpResponse::json(nlohmann::json{
        {"handler", name},
        {"path", request.path},
        {"query", request.query},
        {"body", request.body}}.dump());
  };
}

std::string handler_of(const drift::test::HttpReply& reply) {
  return nlohmann::json::parse(reply.body).at("handler").get<std::string>();
}

}  // namespace

TEST_CASE("HTTP server routes by method and the longest path prefix", "[http][unit]") {
  HttpServer server(options());
  server.route("GET", "/v1/models", echo("models"));
  server.route("GET", "/v1/models/", echo("model"));
  server.route("GET", "/v1/status", echo("status"));
  server.route("POST", "/v1/ingest/", echo("ingest"));
  server.start();
  HttpClient client(server.port());

  auto reply = client.request("GET", "/v1/models");
  CHECK(reply.status == 200);
  CHECK(handler_of(reply) == "models");
  CHECK(reply.header("content-type") == "application/json");

  reply = client.request("GET", "/v1/models/credit?window=last");
  CHECK(reply.status == 200);
  const auto body = nlohmann::json::parse(reply.body);
  CHECK(body["handler"] == "model");
  CHECK(body["path"] == "/v1/models/credit");
  CHECK(body["query"] == "window=last");

  CHECK(client.request("GET", "/v1/modelsx").status == 404);
  CHECK(client.request("GET", "/nothing/here").status == 404);

  reply = client.request("POST", "/v1/status", "{}");
  CHECK(reply.status == 405);
  CHECK(reply.header("allow") == "GET");
  CHECK(nlohmann::json::parse(reply.body).contains("error"));

  reply = client.request("POST", "/v1/ingest/web", "{\"a\":1}");
  CHECK(reply.status == 200);
  CHECK(handler_of(reply) == "ingest");
  CHECK(nlohmann::json::parse(reply.body)["body"] == "{\"a\":1}");
  CHECK(client.request("GET", "/v1/ingest/web").status == 405);
}

TEST_CASE("HTTP server keeps one connection alive across several requests", "[http][unit]") {
  std::atomic<int> calls{0};
  HttpServer server(options());
  server.route("GET", "/ping", [&](const HttpRequest&) {
    ++calls;
    return HttpResponse::json("\"pong\"");
  });
  server.start();
  HttpClient client(server.port());
  for (int i = 0; i < 10; ++i) {
    const auto reply = client.request("GET", "/ping");
    REQUIRE(reply.status == 200);
    CHECK(reply.keep_alive);
    CHECK(reply.body == "\"pong\"");
  }
  CHECK(calls == 10);
  // "Connection: close" is honoured: the reply says so and the server hangs up.
  const auto last = client.request("GET", "/ping", {}, {{"Connection", "close"}});
  CHECK(last.status == 200);
  CHECK_FALSE(last.keep_alive);
  CHECK(client.closed_by_peer());
}

TEST_CASE("HTTP server answers 413 for a body over the limit without reading it", "[http][unit]") {
  std::atomic<int> calls{0};
  HttpServer server(options(2, 1024));
  server.route("POST", "/in", [&](const HttpRequest&) {
    ++calls;
    return HttpResponse::json("{}");
  });
  server.start();

  SECTION("a declared Content-Length over the limit is refused after the header") {
    HttpClient client(server.port());
    // Only the header is sent: the answer must not wait for a gigabyte of body.
    client.send_raw(
        "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
        "Content-Type: application/json\r\n\r\n");
    const auto reply = client.read_reply();
    CHECK(reply.status == 413);
    CHECK(nlohmann::json::parse(reply.body)["error"].get<std::string>().find("1024") !=
          std::string::npos);
    CHECK_FALSE(reply.keep_alive);
  }
  SECTION("a body sent in full is answered 413 and the client reads the answer") {
    HttpClient client(server.port());
    const auto reply = client.request("POST", "/in", std::string(200000, 'x'));
    CHECK(reply.status == 413);
  }
  SECTION("a chunked body that grows past the limit is refused") {
    HttpClient client(server.port());
    std::string request = "POST /in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) request += "200\r\n" + std::string(512, 'y') + "\r\n";
    request += "0\r\n\r\n";
    client.send_raw(request);
    CHECK(client.read_reply().status == 413);
  }
  SECTION("a body at the limit is accepted") {
    HttpClient client(server.port());
    CHECK(client.request("POST", "/in", std::string(1024, 'z')).status == 200);
    CHECK(calls == 1);
  }
  if (calls > 0) CHECK(calls == 1);
}

TEST_CASE("HTTP server answers 400 to malformed requests", "[http][unit]") {
  HttpServer server(options());
  server.route("GET", "/", echo("root"));
  server.start();

  SECTION("not HTTP at all") {
    HttpClient client(server.port());
    client.send_raw("HELLO THERE\r\n\r\n");
    const auto reply = client.read_reply();
    CHECK(reply.status == 400);
    CHECK(nlohmann::json::parse(reply.body)["error"].get<std::string>().find("malformed") !=
          std::string::npos);
  }
  SECTION("a bad Content-Length") {
    HttpClient client(server.port());
    client.send_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n");
    CHECK(client.read_reply().status == 400);
  }
  SECTION("a target that is not a path") {
    HttpClient client(server.port());
    client.send_raw("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(client.read_reply().status == 400);
  }
  SECTION("the server keeps serving afterwards") {
    HttpClient client(server.port());
    CHECK(client.request("GET", "/anything").status == 200);
  }
}

TEST_CASE("HTTP server turns a throwing handler into a 500", "[http][unit]") {
  HttpServer server(options());
  server.route("GET", "/boom",
               [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });
  server.start();
  HttpClient client(server.port());
  const auto reply = client.request("GET", "/boom");
  CHECK(reply.status == 500);
  CHECK(nlohmann::json::parse(reply.body)["error"].get<std::string>().find("kaput") !=
        std::string::npos);
  CHECK(client.request("GET", "/boom").status == 500);  // the connection survived
}

TEST_CASE("HTTP server answers Expect: 100-continue before the body", "[http][unit]") {
  HttpServer server(options());
  server.route("POST", "/in", echo("in"));
  server.start();
  HttpClient client(server.port());
  client.send_raw(
      "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
  CHECK(client.read_reply().status == 100);
  client.send_raw("{\"a\":1}");
  const auto reply = client.read_reply();
  CHECK(reply.status == 200);
  CHECK(nlohmann::json::parse(reply.body)["body"] == "{\"a\":1}");
}

TEST_CASE("HTTP server serves concurrent clients on several threads", "[http][integration]") {
  HttpServer server(options(4));
  std::atomic<int> in_handler{0};
  std::atomic<int> most_in_handler{0};
  server.route("POST", "/work", [&](const HttpRequest& request) {
    const int now = ++in_handler;
    int seen = most_in_handler;
    while (now > seen && !most_in_handler.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --in_handler;
    return HttpResponse::json(request.body);
  });
  server.start();
  constexpr int kClients = 8;
  constexpr int kRequests = 40;
  std::vector<std::future<int>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&, c] {
      HttpClient client(server.port());
      int ok = 0;
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = std::to_string(c * 1000 + i);
        const auto reply = client.request("POST", "/work", body);
        if (reply.status == 200 && reply.body == body) ++ok;
      }
      return ok;
    }));
  }
  int ok = 0;
  for (auto& f : clients) ok += f.get();
  CHECK(ok == kClients * kRequests);
  CHECK(most_in_handler > 1);  // handlers really ran in parallel
  CHECK(most_in_handler <= 4);
}

TEST_CASE("HTTP server reports its address and refuses a port in use", "[http][unit]") {
  HttpServer first(options());
  CHECK(first.port() != 0);
  CHECK(first.address() == "127.0.0.1:" + std::to_string(first.port()));
  auto taken = options();
  taken.listen = first.address();
  try {
    HttpServer second(taken);
    FAIL("binding a port in use must throw");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find(first.address()) != std::string::npos);
    CHECK(what.find("in use") != std::string::npos);
  }
  auto bad = options();
  bad.listen = "127.0.0.1:notaport";
  CHECK_THROWS_WITH(HttpServer(bad), Catch::Contains("127.0.0.1:notaport"));
}

TEST_CASE("HTTP server stop lets an in-flight request finish", "[http][integration]") {
  HttpServer server(options());
  std::promise<void> entered;
  server.route("GET", "/slow", [&](const HttpRequest&) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return HttpResponse::json("\"done\"");
  });
  server.start();
  HttpClient idle(server.port());  // an idle keep-alive connection must not delay stop()
  auto slow = std::async(std::launch::async, [&] {
    HttpClient client(server.port());
    return client.request("GET", "/slow");
  });
  entered.get_future().wait();
  const auto begin = std::chrono::steady_clock::now();
  server.stop();
  const auto took = std::chrono::steady_clock::now() - begin;
  const auto reply = slow.get();
  CHECK(reply.status == 200);
  CHECK(reply.body == "\"done\"");
  CHECK_FALSE(reply.keep_alive);
  CHECK(took < std::chrono::seconds(5));
  CHECK(idle.closed_by_peer());
  CHECK_THROWS(HttpClient(server.port()).request("GET", "/slow"));
  server.stop();  // idempotent
}

TEST_CASE("HttpResponse and HttpRequest helpers", "[http][unit]") {
  const auto error = HttpResponse::error(418, "a \"teapot\"\n");
  CHECK(error.status == 418);
  CHECK(nlohmann::json::parse(error.body)["error"] == "a \"teapot\"\n");
  const auto json = HttpResponse::json("[1]", 201);
  CHECK(json.status == 201);
  CHECK(json.content_type == "application/json");
  HttpRequest request;
  request.headers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}};
  CHECK(request.header("x-a") == "1");
  CHECK(request.header("x-b") == "2");
  CHECK(request.header("x-c").empty());
}
