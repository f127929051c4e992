# syntax=docker/dockerfile:1

# Stage 1: build the one static binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Dependencies first, so editing Touchpoint's code does not invalidate this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/touchpoint ./cmd/touchpoint

# Stage 2: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/touchpoint /touchpoint
EXPOSE 8080
ENTRYPOINT ["/touchpoint"]
