# syntax=docker/dockerfile:1
ARG GO=1.22
ARG BASE=debian:12
FROM golang:${GO} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod,sharing=locked \
    --mount=type=bind,source=.,target=/src,rw \
    go build -o /out/app ./cmd/app
FROM ${BASE} AS runtime
ARG GO
LABEL org.opencontainers.image.version=$GO "multi word"="x y"
COPY --from=build --chown=1000:1000 --chmod=0755 /out/app /usr/local/bin/app
ENV PATH=/usr/local/bin:$PATH HOME=/home/app
USER 1000:1000
EXPOSE 8080/tcp 9090-9091/udp
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["app", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["app"]
CMD ["serve", "--port", "8080"]
