"""flask user create: a hashed user from the shell, bad input refused by name."""

from werkzeug.security import check_password_hash

from app.models import User


def test_it_creates_a_user_with_a_hashed_password(app):
    result = app.test_cli_runner().invoke(
        args=["user", "create", "carol", "--role", "viewer", "--password", "long enough"]
    )
    assert result.exit_code == 0, result.output
    assert "created user carol (viewer)" in result.output
    user = User.get(User.username == "carol")
    assert user.role == "viewer"
    assert check_password_hash(user.password_hash, "long enough")


def test_it_reads_the_password_from_the_prompt(app):
    result = app.test_cli_runner().invoke(
        args=["user", "create", "dave", "--role", "admin"], input="s3cret-pass\ns3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert check_password_hash(User.get(User.username == "dave").password_hash, "s3cret-pass")


def test_it_refuses_a_short_password_a_bad_role_and_a_taken_name(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["user", "create", "erin", "--password", "short"])
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    role = runner.invoke(args=["user", "create", "erin", "--role", "root", "--password", "long enough"])
    assert role.exit_code != 0 and "root" in role.output
    assert runner.invoke(args=["user", "create", "erin", "--password", "long enough"]).exit_code == 0
    taken = runner.invoke(args=["user", "create", "erin", "--password", "long enough"])
    assert taken.exit_code != 0 and "already exists" in taken.output
    assert User.select().where(User.username == "erin").count() == 1
