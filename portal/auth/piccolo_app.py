import os

from piccolo.conf.apps import AppConfig

from portal.auth import tables

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.User,
        tables.AuthSession,
        tables.LoginAttempt,
        tables.PasswordResetToken,
        tables.OidcIdentity,
        tables.RecoveryCode,
        tables.ThrottleCounter,
    ],
)
