#pragma once
// The typed port and message classes, declared once for the headers that befriend each other.
//
// Declared here without default arguments (the definitions carry them), and befriended as
// floe::X: g++ 12 looks an unqualified friend template up again where its class is
// instantiated, and another `X` visible there (a test fixture called Service, say) becomes a
// "conflicting declaration".

namespace floe {

template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class Service;

template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class ClientBuilder;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class Client;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class RequestMut;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class PendingResponse;

template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class ServerBuilder;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class Server;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class ActiveRequest;
template <typename ResponsePayload, typename ResponseUserHeader>
class ResponseMut;
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class CallOperation;

}  // namespace floe
