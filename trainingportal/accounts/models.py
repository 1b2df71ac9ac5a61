from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an e-mail address.

    `is_reviewer` is the society-wide SCMR reviewer role; every other role is per program (programs.Membership).
    `institution` is used to keep reviewers away from programs of their own institution.
    """

    username = None
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    institution = models.CharField(max_length=200, blank=True)
    is_reviewer = models.BooleanField("SCMR reviewer", default=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Credential(models.Model):
    """A CMR credential (e.g. the program director's SCMR Level III)."""

    class Level(models.TextChoices):
        I = "I", "Level I"  # noqa: E741
        II = "II", "Level II"
        III = "III", "Level III"
        # SCMR 2021: a virtual program is "led by a Level-III-trained, Advanced Practitioner, or equivalent CMR expert".
        AP = "AP", "Advanced Practitioner"
        EQ = "EQ", "Equivalent CMR expert (with a written justification)"

    # Those who may lead a program (and rank with Level III as mentors; engine.facts.LEVEL_RANK).
    DIRECTOR_LEVELS = (Level.III, Level.AP, Level.EQ)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="credentials")
    level = models.CharField(max_length=3, choices=Level.choices)
    justification = models.TextField(
        blank=True, help_text="For an equivalent CMR expert: the training and experience that make them equivalent."
    )
    body = models.CharField("issuing body", max_length=100, help_text="SCMR, EACVI, CBCMR, …")
    identifier = models.CharField("certificate or letter id", max_length=100)
    issued_on = models.DateField()
    document = models.FileField(upload_to="credentials/", blank=True)

    class Meta:
        ordering = ["-issued_on"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(level="EQ") | ~models.Q(justification=""), name="credential_equivalent_justified"
            )
        ]

    def __str__(self) -> str:
        return f"{self.body} {self.get_level_display()} ({self.identifier})"
