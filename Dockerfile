FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && useradd --create-home tollhouse
USER tollhouse
ENV LITELLM_LOCAL_MODEL_COST_MAP=True
EXPOSE 8000
CMD ["tollhouse", "serve", "--host", "0.0.0.0"]
