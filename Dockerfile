FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings but no real secrets: throwaway values for this one step.
RUN SECRET_KEY=collectstatic-only \
    LEADOPS_ENCRYPTION_KEYS=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput --verbosity 0
ENV STATIC_ROOT=/app/staticfiles
RUN useradd --create-home leadops && mkdir -p /app/var/media && chown -R leadops /app/var
USER leadops
EXPOSE 8000
