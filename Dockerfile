# Builds the manager image. Standard multi-stage build: a static binary
# (CGO off) on a distroless, non-root base. Build it with
#   docker build -t ingresse-operator:latest .
# (there is no Docker engine on our CI machines; CI builds and tests the
# same binary with `make build` instead).
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace

# Dependencies first, so they are cached while the code changes.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY webhookreceiver/ webhookreceiver/
COPY internal/ internal/

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o manager ./cmd

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
