# tokengate: an OpenAI-compatible batching gateway. Build: docker build -t tokengate .
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY policies ./policies
COPY loadtest ./loadtest
RUN pip install --no-cache-dir --prefix=/install ".[fast]"

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 tokengate
COPY --from=build /install /usr/local
USER tokengate
WORKDIR /home/tokengate
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["tokengate", "serve"]
# Mount a config and listen on all interfaces, e.g.
#   docker run -p 8080:8080 -v $PWD/gateway.yaml:/etc/tokengate.yaml tokengate --config /etc/tokengate.yaml --host 0.0.0.0
# or try the demo: docker run -p 8080:8080 tokengate --demo --host 0.0.0.0
CMD ["--demo", "--host", "0.0.0.0"]
